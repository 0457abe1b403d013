# Shared by the amd64 generators (q8group_gen.py, scores_avx512_gen.py).
def align_functions(text):
    """Ends every function with PCALIGN $2048, which makes the linker start it on a 2 KiB
    boundary. Padding follows RET and is never run.

    First it was 64 bytes: Go aligns functions to 32, so a kernel's loops sat on either half of
    a cache line depending on the Go code linked before it, and eight sequences of qwen2.5-0.5b
    decoded 6 to 11% slower in a build whose Go code had grown by a few instructions, the
    assembly unchanged. That was not the whole of it. On 2026-12-05 a build that added one
    kernel to another file ran llama-3.2-1b's eight sequences 10 to 15% slower (whole `arbor
    bench --batch 8` runs, the two builds alternating, four to six rounds: 230-251 against
    265-304 tokens/s), every kernel still on a 64-byte boundary: the eight-token kernel's block
    loop had come to straddle a 4 KiB boundary of the code. The same build with that kernel
    moved to start a 4 KiB page ran as fast as the build before (261-282 against 262-285). A
    function that starts on a 2 KiB boundary and is shorter than 2 KiB never straddles a 4 KiB
    one; every kernel but q8g8AVX2 (3.2 KiB) is. The cost is the padding, about a kilobyte of
    the binary a function."""
    lines, out, seen = text.split("\n"), [], False
    for line in lines:
        if line.startswith("TEXT "):
            if seen:
                out.append("\tPCALIGN $2048")
            seen = True
        out.append(line)
    while out and out[-1] == "":
        out.pop()
    if seen:
        out.append("\tPCALIGN $2048")
    return "\n".join(out) + "\n"
