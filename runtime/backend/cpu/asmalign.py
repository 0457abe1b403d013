# Shared by the amd64 generators (q8group_gen.py, scores_avx512_gen.py).
def align_functions(text):
    """Ends every function with PCALIGN $64, which makes the linker start it on a 64-byte
    boundary (Go aligns functions to 32 bytes, so a kernel's loops otherwise sit on either half
    of a cache line depending on the Go code linked before it). The kernels' speed moved by 5
    to 10% with that half: eight sequences of qwen2.5-0.5b decoded 6 to 11% slower in a build
    whose Go code had grown by a few instructions, the assembly unchanged. The padding follows
    RET and is never run."""
    lines, out, seen = text.split("\n"), [], False
    for line in lines:
        if line.startswith("TEXT "):
            if seen:
                out.append("\tPCALIGN $64")
            seen = True
        out.append(line)
    while out and out[-1] == "":
        out.pop()
    if seen:
        out.append("\tPCALIGN $64")
    return "\n".join(out) + "\n"
