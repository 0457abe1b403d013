# Writes q8group_amd64.s, the unrolled AVX2 kernels over q8_0 row groups (go generate, from
# q8group.go). Run it from this directory: python3 q8group_gen.py
import os

from asmalign import align_functions

# How far ahead (bytes) each block prefetches the quads: 32 blocks, past the end of a short
# group into the next one (next in memory). 8 KiB measured best for one token streaming from
# DRAM on a 2-core EPYC (BenchmarkMatVecDRAM/q8_0), ahead of 512 B and of none.
PFD=int(os.environ.get('PFD','8192'))
toks8 = ["0(DI)", "0(DI)(R8*1)", "0(DI)(R8*2)", "0(DI)(R10*1)", "0(DI)(R8*4)", "0(DI)(R11*1)", "0(DI)(R10*2)", "0(DI)(R12*1)"]
# Token t's activations at DI + t*stride, without a displacement (the 512-bit kernels add their own).
xtoks = [a[1:] for a in toks8]

def taddr(t, c, h):
    """Token t's int16 quants for half h (columns 4c+2h, 4c+2h+1) of quad c."""
    a = toks8[t]
    return f"{8*c+4*h}" + a[1:]  # replace leading 0 with displacement

out = []
w = out.append


def next_block(label):
    """The end of a block iteration: on to the next 32 columns (quads, scales, the token's
    quants and scale), and round again while blocks are left."""
    w(f"""\tADDQ        $256, SI
\tADDQ        $16, BX
\tADDQ        $64, DI
\tADDQ        $4, DX
\tDECQ        CX
\tJNZ         {label}""")


def add_or_store4(add, label, dsts, first=4):
    """The end of a four-output kernel: Y{first}..Y{first+3} added to the floats at dsts when
    the add argument (at add(FP)) is not 0, then stored there."""
    w(f"\tCMPQ         {add}(FP), $0\n\tJEQ          {label}")
    for k, d in enumerate(dsts):
        w(f"\tVADDPS       {d}, Y{first+k}, Y{first+k}")
    w(f"\n{label}:")
    for k, d in enumerate(dsts):
        w(f"\tVMOVUPS      Y{first+k}, {d}")


def int_block(label, T):
    """The head of a block for T tokens (q8g4, q8g8): prefetch, the eight rows' scales into Y12,
    then each quad (widened) against every token, token t's integer sum in Yt; AX left at the
    first token's scale."""
    w(f"""
{label}:
\tPREFETCHT0 {PFD}(SI)
\tPREFETCHT0 {PFD}+64(SI)
\tPREFETCHT0 {PFD}+128(SI)
\tPREFETCHT0 {PFD}+192(SI)
\tVCVTPH2PS (BX), Y12""")
    for c in range(8):
        w(f"\tQ8QUAD({32*c})")
        m = "Q8Q0" if c == 0 else "Q8Q"
        for t in range(T):
            w(f"\t{m}({taddr(t, c, 0)}, {taddr(t, c, 1)}, Y{t})")
    w("\tMOVQ        DX, AX")
w('''//go:build amd64 && !purego

#include "textflag.h"

// The q8_0 kernels over row groups (see q8group.go for the layout). A group block is eight
// rows by 32 columns: eight f16 scales (one per row) and eight 32-byte quads, quad c holding
// columns 4c and 4c+1 of rows 0..7 in its first 16 bytes and columns 4c+2 and 4c+3 in its
// last 16, a row's two columns side by side. VPMOVSXBW widens each half to sixteen int16, so
// that lane r of an 8-lane vector holds row r's two weights; VPMADDWD against the token's two
// activation quants (int16, broadcast to every lane) multiplies and adds the pair, and VPADDD
// sums the halves and quads: the block's exact integer dot product for eight rows, with no
// per-row scale broadcast or horizontal sum. Then one conversion and one FMA per block scale
// it by weight scale x activation scale. (ggml's int8 products, VPSIGNB and VPMADDUBSW then a
// VPMADDWD by ones, take as many vector operations per 32 products, two of them multiplies,
// but a quad against eight tokens takes more cycles that way on Zen 3; likely because the sign
// step can take the multiplies' two pipes and makes each token's chain longer.)
//
// The one-stream kernels prefetch the quads 8 KiB ahead in every block; the four-stream one
// leaves it to the hardware (see q8group_gen.py, which writes this file).
//
// Register use: Y8/Y9 the quad's halves widened, Y10/Y11 scratch, Y12 the eight rows' scales.

// Q8Q0 and Q8Q are one quad (Y8, Y9) against one token, whose int16 quant pairs for the two
// halves are at XL and XH: the first quad of a block sets the token's integer sum, the others
// add to it.
#define Q8Q0(XL, XH, ACC) \\
	VPBROADCASTD XL, Y10 \\
	VPMADDWD     Y8, Y10, ACC \\
	VPBROADCASTD XH, Y11 \\
	VPMADDWD     Y9, Y11, Y11 \\
	VPADDD       Y11, ACC, ACC

#define Q8Q(XL, XH, ACC) \\
	VPBROADCASTD XL, Y10 \\
	VPMADDWD     Y8, Y10, Y10 \\
	VPADDD       Y10, ACC, ACC \\
	VPBROADCASTD XH, Y11 \\
	VPMADDWD     Y9, Y11, Y11 \\
	VPADDD       Y11, ACC, ACC

// Q8QUAD loads quad c of the block, its halves widened to int16.
#define Q8QUAD(OFF) \\
	VPMOVSXBW OFF(SI), Y8 \\
	VPMOVSXBW OFF+16(SI), Y9

// Q8SCALE is the block's scale for one token: the rows' scales (Y12) times the token's
// activation scale at D, left in Y10.
#define Q8SCALE(D) \\
	VBROADCASTSS D, Y10 \\
	VMULPS       Y12, Y10, Y10
''')

# ---- one token
w('''
// func q8g1AVX2(w *byte, s *byte, xq *int16, xd *float32, nb int, out *float32, add int)
//
// One token against one row group: w the group's quads from the first block, s its scales,
// xq/xd the token's quants and scales, nb blocks; out gets the eight rows' sums (added to what
// is there if add is not 0).
TEXT ·q8g1AVX2(SB), NOSPLIT, $0-56
	MOVQ   w+0(FP), SI
	MOVQ   s+8(FP), BX
	MOVQ   xq+16(FP), DI
	MOVQ   xd+24(FP), DX
	MOVQ   nb+32(FP), CX
	VXORPS Y4, Y4, Y4

q8g1block:
	PREFETCHT0 PFD(SI)
	PREFETCHT0 PFD+64(SI)
	PREFETCHT0 PFD+128(SI)
	PREFETCHT0 PFD+192(SI)
	PREFETCHT0 256(BX)
	VCVTPH2PS (BX), Y12'''.replace("PFD", str(PFD)))
for c in range(8):
    # The halves in two sums (Y0, Y1), two dependency chains instead of one.
    w(f"\tQ8QUAD({32*c})")
    for h in range(2):
        w(f"\tVPBROADCASTD {8*c+4*h}(DI), Y1{h}")
        if c == 0:
            w(f"\tVPMADDWD     Y{8+h}, Y1{h}, Y{h}")
        else:
            w(f"\tVPMADDWD     Y{8+h}, Y1{h}, Y1{h}")
            w(f"\tVPADDD       Y1{h}, Y{h}, Y{h}")
w('''	VPADDD      Y1, Y0, Y0
	VCVTDQ2PS   Y0, Y0
	Q8SCALE((DX))
	VFMADD231PS Y10, Y0, Y4''')
next_block("q8g1block")
w('''	MOVQ        out+40(FP), DI
	CMPQ        add+48(FP), $0
	JEQ         q8g1store
	VADDPS      (DI), Y4, Y4

q8g1store:
	VMOVUPS     Y4, (DI)
	VZEROUPPER
	RET
''')

# ---- one token, four streams
# The four streams' prefetch. On a 2-core Zen 3 none measured best for one token of qwen2.5-0.5b
# q8_0, ahead of 1 KiB and 4 KiB; on a 2-core Zen 5 (whose bandwidth the hardware prefetchers
# alone leave unused) 8 KiB did for that model (arbor bench, six alternating runs each: medians
# 71.1 tokens/s against 65.7 with none, 68.2 at 12 KiB; one core's product from DRAM,
# BenchmarkMatVecDRAM/q8_0: 22 GB/s with none, 28 at 8 KiB, 32 at 12 KiB). The distance is an
# argument (pfd): Go picks it from the matrix's width (q8OnePrefetch).


def one_token_head(name, args):
    """The head of a one-token four-stream kernel (q8g1x4AVX2, q8g1x4PF, q8g1x4VNNI): the frame
    (0 and 8 the run's w and s), the streams' stride in R8 and 3x it in R9, the outputs in R10
    with their stride in R11 and 3x it in R13, the runs left in R12."""
    return f"""TEXT ·{name}(SB), NOSPLIT, $16-{args}
\tMOVQ   w+0(FP), AX
\tMOVQ   AX, 0(SP)
\tMOVQ   s+8(FP), AX
\tMOVQ   AX, 8(SP)
\tMOVQ   sstride+40(FP), R8
\tLEAQ   (R8)(R8*2), R9
\tMOVQ   out+48(FP), R10
\tMOVQ   ostride+56(FP), R11
\tLEAQ   (R11)(R11*2), R13
\tMOVQ   ng+72(FP), R12"""


def one_token_run(name):
    """The start of a run of four groups: its quants in SI, scales in BX, the token's quants in
    DI and scales in DX, the blocks left in CX."""
    return f"""{name}run:
\tMOVQ   0(SP), SI
\tMOVQ   8(SP), BX
\tMOVQ   xq+16(FP), DI
\tMOVQ   xd+24(FP), DX
\tMOVQ   nb+32(FP), CX"""


def one_token_tail(name, first):
    """The end of a run: the four groups' float sums (Y{first}..Y{first+3}) added or stored,
    then on to the next run of groups."""
    add_or_store4("add+64", f"{name}store", ["(R10)", "(R10)(R11*1)", "(R10)(R11*2)", "(R10)(R13*1)"], first)
    w(f'''	ADDQ         $32, R10
	MOVQ         gstride+80(FP), AX
	ADDQ         AX, 0(SP)
	ADDQ         AX, 8(SP)
	DECQ         R12
	JNZ          {name}run
	VZEROUPPER
	RET
''')


def q8g1x4(name, pf):
    w(f'''
// func {name}(w *byte, s *byte, xq *int16, xd *float32, nb int, sstride int, out *float32, ostride int, add int, ng int, gstride int{", pfd int" if pf else ""})
//
// One token against four row groups at once, sstride bytes apart in w and s: four memory
// streams in flight instead of one (see runQ8), and each activation broadcast serves four
// groups. Group k's eight sums go to out+k*ostride (bytes), added to what is there if add is
// not 0. ng runs of four: after each, w and s advance by gstride and out by 32 bytes. Integer
// sums in Y0..Y3, float sums in Y4..Y7, the token's quant pairs broadcast in Y10/Y11, its
// scale in Y14. {"Each stream prefetches pfd bytes ahead." if pf else "No prefetch."}
// Frame: 0 and 8 the run's w and s.
{one_token_head(name, 96 if pf else 88)}

{one_token_run(name)}
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

{name}block:''')
    streams = ["(SI)", "(SI)(R8*1)", "(SI)(R8*2)", "(SI)(R9*1)"]
    sstreams = ["(BX)", "(BX)(R8*1)", "(BX)(R8*2)", "(BX)(R9*1)"]
    if pf:
        w("\tMOVQ   pfd+88(FP), AX\n\tADDQ   SI, AX")
        pstreams = ["(AX)", "(AX)(R8*1)", "(AX)(R8*2)", "(AX)(R9*1)"]
        for k in range(4):
            for l in range(4):
                w(f"\tPREFETCHT0 {64*l}{pstreams[k]}")
    for c in range(8):
        w(f"\tVPBROADCASTD {8*c}(DI), Y10")
        w(f"\tVPBROADCASTD {8*c+4}(DI), Y11")
        for k in range(4):
            for h in range(2):
                w(f"\tVPMOVSXBW    {32*c+16*h}{streams[k]}, Y{8+h}")
                if c == 0 and h == 0:
                    w(f"\tVPMADDWD     Y8, Y10, Y{k}")
                else:
                    w(f"\tVPMADDWD     Y{8+h}, Y1{h}, Y{8+h}")
                    w(f"\tVPADDD       Y{8+h}, Y{k}, Y{k}")
    w("\tVBROADCASTSS (DX), Y14")
    for k in range(4):
        w(f"\tVCVTPH2PS    {sstreams[k]}, Y12")
        w("\tVMULPS       Y14, Y12, Y12")
        w(f"\tVCVTDQ2PS    Y{k}, Y{k}")
        w(f"\tVFMADD231PS  Y12, Y{k}, Y{4+k}")
    next_block(f"{name}block")
    one_token_tail(name, 4)


# Without prefetch where that measured best (AVX2 CPUs, Zen 3), with it on CPUs with AVX-512
# (Zen 5), chosen at run time (q8Run1x4).
q8g1x4("q8g1x4AVX2", 0)
q8g1x4("q8g1x4PF", True)


# A VPDPWSSD form of this kernel on 512-bit registers (two instructions per group and quad
# where this takes six) was first measured 13% faster with the weights in cache but 12% slower
# streaming them from DRAM (BenchmarkMatVecDRAM/q8_0, Zen 5, 2026-12-02); it is now
# q8g1x4VNNI (q8vnni_amd64.s), with a different prefetch, see there.

# ---- four tokens
w('''
// func q8g4AVX2(w *byte, s *byte, xq *int16, xd *float32, nb int, qstride int, dstride int, out *float32, ostride int, add int)
//
// Four tokens against one row group: token t's quants at xq+t*qstride, its scales at
// xd+t*dstride (bytes). Token t's eight sums go to out+t*ostride (bytes), added to what is
// there if add is not 0. Float sums in Y4..Y7.
TEXT ·q8g4AVX2(SB), NOSPLIT, $0-80
	MOVQ   w+0(FP), SI
	MOVQ   s+8(FP), BX
	MOVQ   xq+16(FP), DI
	MOVQ   xd+24(FP), DX
	MOVQ   nb+32(FP), CX
	MOVQ   qstride+40(FP), R8
	MOVQ   dstride+48(FP), R9
	LEAQ   (R8)(R8*2), R10
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7''')
int_block("q8g4block", 4)
for t in range(4):
    w(f"\tVCVTDQ2PS   Y{t}, Y{t}")
    w(f"\tQ8SCALE((AX))")
    w(f"\tVFMADD231PS Y10, Y{t}, Y{4+t}")
    if t < 3:
        w("\tADDQ        R9, AX")
next_block("q8g4block")
w('''	MOVQ        out+56(FP), DI
	MOVQ        ostride+64(FP), R8
	LEAQ        (R8)(R8*2), R10''')
add_or_store4("add+72", "q8g4store", ["(DI)", "(DI)(R8*1)", "(DI)(R8*2)", "(DI)(R10*1)"])
w('''	VZEROUPPER
	RET
''')

# ---- eight tokens
# The eight-token kernels over runs of groups with their float sums in the frame (q8g8AVX2,
# q8g8AVXVNNI) share their frame, their per-group head and their end.


def frame_head(name, base, args=96):
    """The head shared by the row-group kernels that walk a run of groups: TEXT with a frame of
    base+32 bytes, the groups left at base(SP), the group's w and s at base+8 and base+16, its
    out at base+24, and the scales' stride in R9."""
    return f"""TEXT ·{name}(SB), NOSPLIT, ${base+32}-{args}
\tMOVQ      ng+80(FP), AX
\tMOVQ      AX, {base}(SP)
\tMOVQ      w+0(FP), AX
\tMOVQ      AX, {base+8}(SP)
\tMOVQ      s+8(FP), AX
\tMOVQ      AX, {base+16}(SP)
\tMOVQ      out+56(FP), AX
\tMOVQ      AX, {base+24}(SP)
\tMOVQ      dstride+48(FP), R9"""


def frame8_head(name):
    """The kernel's head: the frame (0..255 the float sums, 256 the groups left, 264/272 the
    group's w and s, 280 its out) and the scales' stride in R9."""
    return frame_head(name, 256)


def frame8_group(prefix, x, stride, T=8):
    """A group's start at prefix+"group": its quants in SI, scales in BX, the tokens'
    activations (argument x) in DI and their scales in DX, the blocks in CX, the tokens' stride
    (argument stride) and its multiples in R8, R10, R11, R12, the T float sums zeroed."""
    w(f"""
{prefix}group:
\tMOVQ   264(SP), SI
\tMOVQ   272(SP), BX
\tMOVQ   {x}+16(FP), DI
\tMOVQ   xd+24(FP), DX
\tMOVQ   nb+32(FP), CX
\tMOVQ   {stride}+40(FP), R8
\tLEAQ   (R8)(R8*2), R10
\tLEAQ   (R8)(R8*4), R11
\tLEAQ   (R10)(R8*4), R12
\tVXORPS Y0, Y0, Y0""")
    for t in range(T):
        w(f"\tVMOVUPS Y0, {32*t}(SP)")


def frame8_tail(prefix, T=8):
    """After the block loop: the T tokens' float sums added to or stored at out (token t at
    out+t*ostride), then on to the next group, back to prefix+"group"."""
    w(f"""\tMOVQ        280(SP), DI
\tMOVQ        ostride+64(FP), R8
\tCMPQ        add+72(FP), $0
\tJEQ         {prefix}store""")
    for t in range(T):
        w(f"\tVMOVUPS {32*t}(SP), Y0")
        w("\tVADDPS  (DI), Y0, Y0")
        w("\tVMOVUPS Y0, (DI)")
        if t < T - 1:
            w("\tADDQ    R8, DI")
    w(f"\tJMP     {prefix}next\n\n{prefix}store:")
    for t in range(T):
        w(f"\tVMOVUPS {32*t}(SP), Y0")
        w("\tVMOVUPS Y0, (DI)")
        if t < T - 1:
            w("\tADDQ    R8, DI")
    w(f"""
{prefix}next:
\tMOVQ        gstride+88(FP), AX
\tADDQ        AX, 264(SP)
\tADDQ        AX, 272(SP)
\tADDQ        $32, 280(SP)
\tDECQ        256(SP)
\tJNZ         {prefix}group
\tVZEROUPPER
\tRET""")

w('''
// func q8g8AVX2(w *byte, s *byte, xq *int16, xd *float32, nb int, qstride int, dstride int, out *float32, ostride int, add int, ng int, gstride int)
//
// q8g4AVX2 for eight tokens and ng consecutive row groups (gstride bytes apart in w and s; each
// group's outputs 8 floats after the last's): one call for a run of groups. The integer sums
// take Y0..Y7, so the float sums live in the frame (one load and one store per token and
// block, against its 16 VPMADDWD and 16 VPADDD). Frame: 0..255 the float sums, 256 the groups
// left, 264/272 the group's w and s, 280 its out.
''' + frame8_head("q8g8AVX2"))
frame8_group("q8g8", "xq", "qstride")
int_block("q8g8block", 8)
for t in range(8):
    w(f"\tVCVTDQ2PS   Y{t}, Y{t}")
    w(f"\tQ8SCALE((AX))")
    w(f"\tVMOVUPS     {32*t}(SP), Y11")
    w(f"\tVFMADD231PS Y10, Y{t}, Y11")
    w(f"\tVMOVUPS     Y11, {32*t}(SP)")
    if t < 7:
        w("\tADDQ        R9, AX")
next_block("q8g8block")
frame8_tail("q8g8")

# ---- AVX-VNNI: eight tokens with VPDPBUSD on 256-bit registers, VEX-encoded (no AVX-512)
# Intel's client cores from Alder Lake on, and Zen 5, have AVX-VNNI: VPDPBUSD on ymm without
# AVX-512. It multiplies four unsigned bytes by four signed bytes a lane and adds them up into
# the lane, so a token's block takes one instruction a quad where the AVX2 kernels take two
# VPMADDWD and two VPADDD. As in q8g8DPBUSD the activations are bytes q+128 (q8PackU8AVX2) and
# each row's sum starts from 128 x its block sum of weights taken back (one more VPDPBUSD a quad
# against bytes of 128). A quad holds row r's columns 4c, 4c+1 in bytes 2r, 2r+1 of its first
# half and 4c+2, 4c+3 in its second half; VPERMQ and VPSHUFB put the four in dword lane r
# (rows 0..7 in the eight lanes), once a quad for all eight tokens. The integer sums are exact,
# so the outputs are the AVX2 kernels' bit for bit. Go's assembler knows VPDPBUSD only in its
# EVEX (AVX-512) form, which faults on a CPU without AVX-512, so the VEX form is written out as
# bytes (vpdpbusd below).

def vpdpbusd(acc, u, s):
    """VEX.256.66.0F38.W0 50 /r: ymm{acc} += the dword sums of ymm{u}'s unsigned bytes times
    ymm{s}'s signed bytes (acc in ModRM.reg, u in VEX.vvvv, s in ModRM.rm)."""
    b1 = ((~acc >> 3) & 1) << 7 | 1 << 6 | ((~s >> 3) & 1) << 5 | 0b00010
    b2 = (~u & 15) << 3 | 1 << 2 | 0b01
    modrm = 0xC0 | (acc & 7) << 3 | (s & 7)
    return (f"\tBYTE $0xC4; BYTE ${b1:#04x}; BYTE ${b2:#04x}; BYTE $0x50; BYTE ${modrm:#04x}"
            f" // VPDPBUSD Y{s}, Y{u}, Y{acc}")


w("""
// q8avxQuadRows: within each 128-bit lane (after VPERMQ $0xd8 has put rows 0..3, then 4..7, of
// a quad's two halves side by side), row r's two words side by side: its four columns in a
// dword.""")
for i, b in enumerate([0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15] * 2):
    w(f"DATA q8avxQuadRows<>+{i}(SB)/1, ${b}")
w("GLOBL q8avxQuadRows<>(SB), RODATA|NOPTR, $32\n\n// q8avx128: bytes of 128.")
for i in range(4):
    w(f"DATA q8avx128<>+{8*i}(SB)/8, $0x8080808080808080")
w("GLOBL q8avx128<>(SB), RODATA|NOPTR, $32")

w("""
// func q8PackU8AVX2(dst *byte, src *int16, qstride int, nb int, ntok int)
//
// q8PackU8VNNI without AVX-512: ntok tokens' quants (int16 in [-128, 127], token t at
// src+t*qstride bytes) for nb blocks to unsigned bytes q+128, token t at dst+t*nb*32.
// VPACKSSWB packs within 128-bit lanes; VPERMQ puts the four 8-byte runs back in order.
TEXT ·q8PackU8AVX2(SB), NOSPLIT, $0-40
	MOVQ    dst+0(FP), DI
	MOVQ    src+8(FP), SI
	MOVQ    qstride+16(FP), R8
	VMOVDQU q8avx128<>(SB), Y2
	MOVQ    ntok+32(FP), DX

q8packavxtok:
	MOVQ    SI, BX
	MOVQ    nb+24(FP), CX

q8packavxblock:
	VMOVDQU   (BX), Y0
	VMOVDQU   32(BX), Y1
	VPACKSSWB Y1, Y0, Y0
	VPERMQ    $0xd8, Y0, Y0
	VPXOR     Y2, Y0, Y0
	VMOVDQU   Y0, (DI)
	ADDQ      $64, BX
	ADDQ      $32, DI
	DECQ      CX
	JNZ       q8packavxblock
	ADDQ      R8, SI
	DECQ      DX
	JNZ       q8packavxtok
	VZEROUPPER
	RET""")

def avxvnni_kernel(T):
    """q8g8AVXVNNI, and for four tokens q8g4AVXVNNI. With four, each token keeps two integer
    sums, even quads in Y{t} and odd ones in Y{t+4}, added at the block's end: one chain of
    eight VPDPBUSD a block would wait on the instruction's latency (four or five cycles) with
    only four chains to interleave."""
    name = f"q8g{T}AVXVNNI"
    two = T == 4
    w(f"""
// func {name}(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int)
//
// q8g8DPBUSD's contract on AVX-VNNI for {T} tokens: their quants as bytes q+128 (token t at
// xu+t*ustride), their scales at xd+t*dstride, ng groups gstride bytes apart. Y0..Y{T-1} the
// tokens' integer sums{" (Y4..Y7 their odd quads')" if two else ""}, Y8 the quad (a row a lane), Y9 128 x the rows' block
// sums of weights, Y10 bytes of 128, Y11 the quad's shuffle, Y12/Y13 the tokens' four bytes
// broadcast, Y14 the rows' scales. Frame: 0..{32*T-1} the float sums, 256 the groups left,
// 264/272 the group's w and s, 280 its out.
{frame8_head(name)}
\tVMOVDQU q8avx128<>(SB), Y10
\tVMOVDQU q8avxQuadRows<>(SB), Y11""")
    frame8_group(name, "xu", "ustride", T)
    w(f"""
{name}block:
\tPREFETCHT0 {PFD}(SI)
\tPREFETCHT0 {PFD}+64(SI)
\tPREFETCHT0 {PFD}+128(SI)
\tPREFETCHT0 {PFD}+192(SI)
\tVPXOR      Y9, Y9, Y9""")
    for t in range(8 if two else T):
        w(f"\tVPXOR      Y{t}, Y{t}, Y{t}")
    for c in range(8):
        w(f"\tVPERMQ     $0xd8, {32*c}(SI), Y8")
        w("\tVPSHUFB    Y11, Y8, Y8")
        w(vpdpbusd(9, 10, 8))
        for t in range(T):
            tmp = 12 + t % 2
            w(f"\tVPBROADCASTD {4*c}{xtoks[t]}, Y{tmp}")
            w(vpdpbusd(t + 4 * (c % 2) if two else t, tmp, 8))
    w("\tVCVTPH2PS  (BX), Y14\n\tMOVQ       DX, AX")
    for t in range(T):
        if two:
            w(f"\tVPADDD     Y{t+4}, Y{t}, Y{t}")
        w(f"\tVPSUBD     Y9, Y{t}, Y{t}")
        w(f"\tVCVTDQ2PS  Y{t}, Y{t}")
        w("\tVBROADCASTSS (AX), Y15")
        w("\tVMULPS     Y14, Y15, Y15")
        w(f"\tVMOVUPS    {32*t}(SP), Y12")
        w(f"\tVFMADD231PS Y15, Y{t}, Y12")
        w(f"\tVMOVUPS    Y12, {32*t}(SP)")
        if t < T - 1:
            w("\tADDQ       R9, AX")
    w(f"""\tADDQ       $256, SI
\tADDQ       $16, BX
\tADDQ       $32, DI
\tADDQ       $4, DX
\tDECQ       CX
\tJNZ        {name}block""")
    frame8_tail(name, T)


avxvnni_kernel(8)
avxvnni_kernel(4)

open('q8group_amd64.s', 'w').write(align_functions("\n".join(out) + "\n"))

# ---- AVX-512 VNNI: q8vnni_amd64.s
# The kernels for four and eight tokens with VPDPWSSD (AVX512_VNNI) on 512-bit registers, for
# CPUs that have AVX-512F/BW/VL and VNNI (hasVNNI). Same layout and same activations (int16)
# as the AVX2 kernels: VPMOVSXBW widens a whole quad to 32 int16 and VPERMD puts row r's two
# column pairs side by side (dword lanes 2r and 2r+1), so that one VPBROADCASTQ of the token's
# four quants for the quad serves all sixteen lanes, and VPDPWSSD multiplies, adds the pairs
# and accumulates in one instruction (the AVX2 kernels take two VPMADDWD and two VPADDD for
# the quad's halves). At the end of a block VPSHUFD and VPADDD add the lanes 2r and 2r+1: the
# block's exact integer sum per row in both, converted and scaled as the AVX2 kernels do
# (scales times the token's scale, one FMA), so the outputs are bit for bit the AVX2 ones.
v = []
w = v.append
w('''//go:build amd64 && !purego

#include "textflag.h"

// The AVX-512 VNNI q8_0 group kernels for four and eight tokens (q8group_gen.py writes this
// file; see it and q8group.go). Register use: Z0..Z7 the tokens' integer sums for the block,
// (row r in dword lanes 2r and 2r+1: its columns 4c, 4c+1 and 4c+2, 4c+3 of quad c), Z8 the
// quad, Z9..Z11 and Z24..Z29 scratch, Z12 the rows' scales (each twice), Z16..Z23 the tokens'
// float sums, Z30 and Z31 the lane permutations below.

// q8vnniPair: dword lane 2r takes lane r (row r's columns 4c, 4c+1), lane 2r+1 lane 8+r (its
// columns 4c+2, 4c+3).''')
for i in range(16):
    w(f"DATA q8vnniPair<>+{4*i}(SB)/4, ${i//2 + 8*(i%2)}")
w("GLOBL q8vnniPair<>(SB), RODATA|NOPTR, $64\n\n// q8vnniTwice: lanes 2r and 2r+1 take lane r (a row's scale).")
for i in range(16):
    w(f"DATA q8vnniTwice<>+{4*i}(SB)/4, ${i//2}")
w("GLOBL q8vnniTwice<>(SB), RODATA|NOPTR, $64")


def frame_prologue(name, stride, args=96):
    """The head of the 512-bit eight-row-group kernels (q8g4VNNI, q8g8VNNI, q8g8DPBUSD): the
    frame (0 the groups left, 8/16 the group's w and s, 24 its out), the scales' stride in R9
    and the tokens' stride argument (stride) and its multiples in R8, R10, R11, R12."""
    return frame_head(name, 0, args) + f"""
\tMOVQ      {stride}+40(FP), R8
\tLEAQ      (R8)(R8*2), R10
\tLEAQ      (R8)(R8*4), R11
\tLEAQ      (R10)(R8*4), R12"""

def scale_sums(T, ntmp, fix):
    """The scaling at the end of a 512-bit kernel's block: for each token t, the integer fix-up
    lines fix(t, tmp) give (its block sums in Z{t} made whole), then the sums made float and
    added to Z{16+t} times the block scales in Z12 and the token's scale (AX, moved on by R9
    for the next token). Z{tmp}, tmp = 24 + t % ntmp, is scratch."""
    for t in range(T):
        tmp = 24 + t % ntmp
        for line in fix(t, tmp):
            w(line)
        w(f"\tVCVTDQ2PS Z{t}, Z{t}")
        w(f"\tVBROADCASTSS (AX), Z{tmp}")
        w(f"\tVMULPS    Z12, Z{tmp}, Z{tmp}")
        w(f"\tVFMADD231PS Z{tmp}, Z{t}, Z{16+t}")
        if t < T - 1:
            w("\tADDQ      R9, AX")

# A row's sum in two lanes (2r and 2r+1) made one: the pair swapped and added.
def fold_pairs(t, tmp):
    return [f"\tVPSHUFD   $0xb1, Z{t}, Z{tmp}", f"\tVPADDD    Z{tmp}, Z{t}, Z{t}"]

def block_tail(name, xstep):
    """The end of a 512-bit kernel's block loop: on to the next block's quads, scales,
    activations (xstep bytes on) and activation scales; after the last, the group's output
    pointer in DI and the tokens' output stride in R13, for out_tail."""
    w(f"""\tADDQ      $256, SI
\tADDQ      $16, BX
\tADDQ      ${xstep}, DI
\tADDQ      $4, DX
\tDECQ      CX
\tJNZ       {name}block
\tMOVQ      24(SP), DI
\tMOVQ      ostride+64(FP), R13""")

def out_tail(name, T, reg, loop, groups, out_step):
    """The end of the 512-bit kernels after their block loop: each token's sums (registers
    reg16 and up) added to or stored at DI + t*R13 (DI and R13 already loaded), then on to the
    next group (or pair: groups=2), its outputs out_step bytes on, back to the name+loop label."""
    w(f"\tCMPQ      add+72(FP), $0\n\tJEQ       {name}store")
    for t in range(T):
        w(f"\tVADDPS    {'(DI)' if t == 0 else '(DI)(AX*1)'}, {reg}{16+t}, {reg}{16+t}")
        w(f"\tVMOVUPS   {reg}{16+t}, {'(DI)' if t == 0 else '(DI)(AX*1)'}")
        w(("\tMOVQ      R13, AX" if t == 0 else "\tADDQ      R13, AX") if t < T - 1 else "")
    w(f"\tJMP       {name}next\n\n{name}store:")
    for t in range(T):
        w(f"\tVMOVUPS   {reg}{16+t}, {'(DI)' if t == 0 else '(DI)(AX*1)'}")
        w(("\tMOVQ      R13, AX" if t == 0 else "\tADDQ      R13, AX") if t < T - 1 else "")
    shift = "\n\tSHLQ      $1, AX" if groups == 2 else ""
    w(f"""
{name}next:
\tMOVQ      gstride+88(FP), AX{shift}
\tADDQ      AX, 8(SP)
\tADDQ      AX, 16(SP)
\tADDQ      ${out_step}, 24(SP)
\tDECQ      0(SP)
\tJNZ       {name}{loop}
\tVZEROUPPER
\tRET""")


def vnni_kernel(T):
    name = f"q8g{T}VNNI"
    w(f'''
// func {name}(w *byte, s *byte, xq *int16, xd *float32, nb int, qstride int, dstride int, out *float32, ostride int, add int, ng int, gstride int)
//
// q8g8AVX2's contract for {T} tokens: token t's quants at xq+t*qstride, scales at
// xd+t*dstride, its eight sums per group to out+t*ostride (bytes), added to what is there if
// add is not 0; ng consecutive groups gstride bytes apart, each group's outputs 8 floats after
// the last's. Frame: 0 the groups left, 8/16 the group's w and s, 24 its out.
{frame_prologue(name, "qstride")}
	VMOVDQU32 q8vnniPair<>(SB), Z30
	VMOVDQU32 q8vnniTwice<>(SB), Z31

{name}group:
	MOVQ      8(SP), SI
	MOVQ      16(SP), BX
	MOVQ      xq+16(FP), DI
	MOVQ      xd+24(FP), DX
	MOVQ      nb+32(FP), CX''')
    for t in range(T):
        w(f"\tVPXORD    Z{16+t}, Z{16+t}, Z{16+t}")
    w(f"""
{name}block:
\tPREFETCHT0 {PFD}(SI)
\tPREFETCHT0 {PFD}+64(SI)
\tPREFETCHT0 {PFD}+128(SI)
\tPREFETCHT0 {PFD}+192(SI)""")
    for t in range(T):
        w(f"\tVPXORD    Z{t}, Z{t}, Z{t}")
    for c in range(8):
        w(f"\tVPMOVSXBW {32*c}(SI), Z8")
        w("\tVPERMD    Z8, Z30, Z8")
        for t in range(T):
            tmp = 24 + t % 6
            w(f"\tVPBROADCASTQ {8*c}{xtoks[t]}, Z{tmp}")
            w(f"\tVPDPWSSD  Z{tmp}, Z8, Z{t}")
    w("\tVCVTPH2PS (BX), Y12\n\tVPERMPS   Z12, Z31, Z12\n\tMOVQ      DX, AX")
    scale_sums(T, 6, fold_pairs)
    block_tail(name, 64)
    # Row r's float sum is in lanes 2r and 2r+1: VPMOVQD keeps the even lanes.
    for t in range(T):
        w(f"\tVPMOVQD   Z{16+t}, Y{16+t}")
    out_tail(name, T, "Y", "group", 1, 32)


vnni_kernel(4)
vnni_kernel(8)


# The four streams' addresses in the one-token kernels: quants, scales, prefetch.
streams = ["(SI)", "(SI)(R8*1)", "(SI)(R8*2)", "(SI)(R9*1)"]
sstreams = ["(BX)", "(BX)(R8*1)", "(BX)(R8*2)", "(BX)(R9*1)"]
pstreams = ["(AX)", "(AX)(R8*1)", "(AX)(R8*2)", "(AX)(R9*1)"]


def vnni_one_run(name):
    """The start of a run in the 512-bit one-token kernels (q8g1x4VNNI, q8g1x4DPBUSD): the run's
    pointers, the four float sums (Y28..Y31) cleared, and at each block the four streams
    prefetched pfd bytes ahead with PREFETCHNTA.

    The prefetch pointer (AX) starts pfd bytes past the run's quants and moves by a block's
    share of a group's bytes (256 of quants, 16 of scales) per block, so that over a group it
    moves by the group's stride and carries on into the next run without a gap: five lines a
    block cover the 272 bytes. It used to be the block's quants plus pfd, which skipped the
    scales' bytes (nb * 16) at every group: at 896 columns, with pfd 8 KiB past groups of 7.6
    KiB, the first 448 bytes of each group's quants were never prefetched, and each group began
    with four streams of misses. On the 2-core Zen 5, with the two kernels alternating decode step by
    decode step in one process (2026-12-04): 0.9 to 1.7% faster on qwen2.5-0.5b, 1.9 to 3.1%
    on llama-3.2-1b; one or two cores looping over 512 MB of copies of a 4,864 x 896 matrix,
    3 to 9% faster."""
    w("\n" + one_token_run(name) + f"""
	VPXORD Z28, Z28, Z28
	VPXORD Z29, Z29, Z29
	VPXORD Z30, Z30, Z30
	VPXORD Z31, Z31, Z31

	MOVQ   pfd+88(FP), AX
	ADDQ   SI, AX

{name}block:""")
    for k in range(4):
        for l in range(5):
            w(f"\tPREFETCHNTA {64*l}{pstreams[k]}")
    w(f"\tADDQ   ${8 * 32 + 8 * 2}, AX")  # a group block's quants and scales


def vnni_one_block_end(name):
    """The end of a block in the 512-bit one-token kernels: each group's integer sums (Z{k} over
    even, Z{k+4} over odd quads or quad pairs, rows in lanes r and 8+r) added to eight exact row
    sums, scaled as q8g1x4PF scales them into Y28..Y31; then the next block, and the run's end."""
    w("\tVBROADCASTSS (DX), Y19")
    for k in range(4):
        w(f"\tVPADDD    Z{k+4}, Z{k}, Z{k}")
        w(f"\tVEXTRACTI64X4 $1, Z{k}, Y{20+k}")
        w(f"\tVPADDD    Y{20+k}, Y{k}, Y{k}")
        w(f"\tVCVTPH2PS {sstreams[k]}, Y{24+k}")
        w(f"\tVMULPS    Y19, Y{24+k}, Y{24+k}")
        w(f"\tVCVTDQ2PS Y{k}, Y{k}")
        w(f"\tVFMADD231PS Y{24+k}, Y{k}, Y{28+k}")
    next_block(f"{name}block")
    one_token_tail(name, 28)


# ---- one token, four streams, VPDPWSSD (q8g1x4VNNI)
# q8g1x4PF on 512-bit registers. A quad widened whole (VPMOVSXBW to 32 int16) holds rows 0..7's
# columns 4c, 4c+1 in dword lanes 0..7 and their columns 4c+2, 4c+3 in lanes 8..15; the token's
# matching pairs are put in that order once per quad for all four groups (VPERMD of the block's
# 32 quants by a fixed index, q8vnniAct), and VPDPWSSD multiplies, adds the pairs and
# accumulates: two instructions a group and quad, where the AVX2 kernel takes six and a share
# of the broadcasts. Even and odd quads go to separate sums (eight dependency chains, not
# four). At the end of a block a group's sums are added (the two sets, then the two halves of
# the register), and the eight rows' exact block sums are scaled in ymm registers as the AVX2
# kernel scales them, so the outputs are bit for bit q8g1x4PF's.
# Each stream is prefetched pfd bytes ahead with PREFETCHNTA rather than PREFETCHT0: the
# weights are read once per step, and the non-temporal hint measured faster (below; a guess at
# why: a Zen's L3 is filled by what L2 evicts, and streamed weights need not be).
# Measured on the 2-core Zen 5 (2026-12-04), one core, weights in L2 (BenchmarkMatVec/q8_0/L2):
# 99 GB/s against q8g1x4PF's 65; in L3 (BenchmarkMatVec/q8_0) 78 against 54. From DRAM the
# kernel matters only when the memory is fast: `arbor bench` on llama-3.2-1b q8_0 while the
# machine read 64 to 74 GB/s, four alternating rounds each, 36.0 to 37.6 tokens/s (median
# 36.9) against q8g1x4PF's 34.4 to 36.0 (35.2) with PREFETCHT0, and 38.2 to 39.9 (median
# 38.9) with PREFETCHNTA against 35.0 to 37.4 (36.5) with PREFETCHT0 in four more; while it
# read 41 to 45 GB/s the two prefetch forms ran alike (25.3 to 27.0 tokens/s, six rounds
# each), both at about 0.82 of that bound.
w("""
// q8vnniAct: for quad c (index vector c), dword lanes 0..7 take the block's dword 2c (the
// token's quants for columns 4c, 4c+1) and lanes 8..15 dword 2c+1 (columns 4c+2, 4c+3).""")
for c in range(8):
    for i in range(16):
        w(f"DATA q8vnniAct<>+{64*c+4*i}(SB)/4, ${2*c + i//8}")
w("GLOBL q8vnniAct<>(SB), RODATA|NOPTR, $512")
w('''
// func q8g1x4VNNI(w *byte, s *byte, xq *int16, xd *float32, nb int, sstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int)
//
// q8g1x4PF's contract and outputs. Registers: Z0..Z3 the four groups' integer sums over even
// quads, Z4..Z7 over odd ones; Z8..Z15 the index vectors (q8vnniAct); Z16 the block's 32
// quants; Z17, Z18 the token's pairs for a quad; Z20..Z27 widened quads, then scratch; Y19 the
// token's block scale; Y28..Y31 the float sums. Frame: 0 and 8 the run's w and s.
''' + one_token_head("q8g1x4VNNI", 96))
for c in range(8):
    w(f"\tVMOVDQU32 q8vnniAct<>+{64*c}(SB), Z{8+c}")
vnni_one_run("q8g1x4VNNI")
w("\tVMOVDQU64 (DI), Z16")
for c in range(8):
    par = c % 2
    pr = 17 + par
    w(f"\tVPERMD    Z16, Z{8+c}, Z{pr}")
    for k in range(4):
        t = 20 + 4*par + k
        w(f"\tVPMOVSXBW {32*c}{streams[k]}, Z{t}")
        if c < 2:
            w(f"\tVPMADDWD  Z{t}, Z{pr}, Z{k + 4*par}")
        else:
            w(f"\tVPDPWSSD  Z{t}, Z{pr}, Z{k + 4*par}")
vnni_one_block_end("q8g1x4VNNI")


# ---- one token, four streams, VPDPBUSD on the weights' bytes (q8g1x4DPBUSD)
# q8g1x4VNNI widens every quad to int16 before its VPDPWSSD: two instructions per 32 bytes of
# weights besides the load. Here a 64-byte load of a group's quad pair is put in order by one
# VPERMB (AVX-512 VBMI) so that each dword lane holds one row's four columns of one quad, made
# unsigned by one XOR (w + 128), and multiplied with the token's signed quants (that quad's
# four, repeated for the eight rows) and summed by one VPDPBUSD: three instructions per 64
# bytes where q8g1x4VNNI takes four. The +128 adds 128 x the block's sum of the token's quants
# to every row's sum: it is taken off by starting the even quad pairs' sums at -128 x that sum
# (computed once per block for the four streams). Row r's sums lie in lanes r (first quad of a
# pair) and 8+r (second), over even and odd pairs in separate registers; added as q8g1x4VNNI
# adds its halves, they are the same exact integers, scaled the same way: the outputs are
# q8g1x4PF's bit for bit.
# Why it matters although both run far below their pace in L2: while a core streams weights
# from memory, the fewer instructions a byte takes, the more of the weights' reads the core
# keeps in flight. On the 2-core Zen 5 (2026-12-04), both cores looping over one 311 MB matrix
# (llama-3.2-1b's output projection), medians of eight alternating rounds: 62.7 GB/s against
# q8g1x4VNNI's 54.3 while the probe read 67 GB/s, 70.6 against 63.4 at 73 (q8g1x4VNNI with
# its arithmetic removed, the loads alone: 73.9 at 76). A whole decode step did not show it yet
# (README, "Speed (CPU)").
w("""
// q8vnniPermB: a group's quad pair (64 bytes) to dword lanes 8h+r, row r's columns 4c..4c+3 of
// the pair's quad h.""")
for o in range(64):
    L, j = o // 4, o % 4
    h, r = L // 8, L % 8
    w(f"DATA q8vnniPermB<>+{o}(SB)/1, ${32*h + (j//2)*16 + 2*r + (j % 2)}")
w("GLOBL q8vnniPermB<>(SB), RODATA|NOPTR, $64")
w("""
// q8vnniActPair: for quad pair p (index vector p), dword lanes 0..7 take the block's packed
// quants' dword 2p (the token's quants for quad 2p's four columns), lanes 8..15 dword 2p+1.""")
for p_ in range(4):
    for i in range(16):
        w(f"DATA q8vnniActPair<>+{64*p_+4*i}(SB)/4, ${2*p_ + i//8}")
w("GLOBL q8vnniActPair<>(SB), RODATA|NOPTR, $256")
w('''
// func q8g1x4DPBUSD(w *byte, s *byte, xq *int16, xd *float32, nb int, sstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int)
//
// q8g1x4PF's contract and outputs, for CPUs with AVX-512 VBMI as well as VNNI. Registers: Z0..Z3
// the four groups' integer sums over even quad pairs, Z4..Z7 over odd ones; Z8..Z11 the index
// vectors (q8vnniActPair); Z12 the weights' byte order (q8vnniPermB); Z13 bytes of 0x80; Z14
// -128 x the block's quant sum in lanes 0..7; Z15 scratch; Z16 the token's block quants, then
// packed to bytes; Z17, Z18 the token's quants for a quad pair; Y19 the token's block scale;
// Z20..Z27 weights, then scratch; Y28..Y31 the float sums. Frame: 0 and 8 the run's w and s.
''' + one_token_head("q8g1x4DPBUSD", 96))
for p_ in range(4):
    w(f"\tVMOVDQU32 q8vnniActPair<>+{64*p_}(SB), Z{8+p_}")
w("""\tVMOVDQU8  q8vnniPermB<>(SB), Z12
\tMOVL      $0x80808080, AX
\tVPBROADCASTD AX, Z13""")
vnni_one_run("q8g1x4DPBUSD")
w("""\tVMOVDQU64 (DI), Z16
\tVPMOVWB   Z16, Y16
\tVPXORD    Z15, Z15, Z15
\tVPDPBUSD  Z16, Z13, Z15
\tVPSHUFD   $0x4e, Y15, Y20
\tVPADDD    Y20, Y15, Y15
\tVPSHUFD   $0xb1, Y15, Y20
\tVPADDD    Y20, Y15, Y15
\tVPERMQ    $0x4e, Y15, Y20
\tVPADDD    Y20, Y15, Y15
\tVPXORD    Z14, Z14, Z14
\tVPSUBD    Z15, Z14, Z14""")
for k in range(4):
    w(f"\tVMOVDQA32 Z14, Z{k}")
    w(f"\tVPXORD    Z{k+4}, Z{k+4}, Z{k+4}")
for p_ in range(4):
    par = p_ % 2
    act = 17 + par
    w(f"\tVPERMD    Z16, Z{8+p_}, Z{act}")
    for k in range(4):
        t = 20 + 4*par + k
        w(f"\tVPERMB    {64*p_}{streams[k]}, Z12, Z{t}")
        w(f"\tVPXORD    Z13, Z{t}, Z{t}")
        w(f"\tVPDPBUSD  Z{act}, Z{t}, Z{k + 4*par}")
vnni_one_block_end("q8g1x4DPBUSD")


# ---- eight tokens with VPDPBUSD (bytes): the activations as unsigned bytes (q+128, by
# q8PackU8VNNI), the weights signed, four bytes of a row in a lane; the +128 costs 128 x the
# row's block sum of weights, which four more VPDPBUSD (by bytes of 128) give per block for all
# eight tokens, and which each token's sum starts from, negated.
# 512-bit registers rather than 256 (AVX-512VL, one quad a register, VPERMW on it, VPBROADCASTD
# of four bytes a token): the same kernel on ymm ran at 206 GFLOP/s against 340 on zmm
# (BenchmarkQ8Run8-style run of 16 groups, eight tokens, AMD EPYC Zen 5, 2 cores shared), both
# bit for bit the AVX2 outputs; Zen 5 runs 512-bit VPDPBUSD at full width.
w("""
// q8vnniQuads: two quads (64 bytes, 32 words) to dword lanes 2r (row r's columns 4c..4c+3 of
// the first quad) and 2r+1 (the same of the second).""")
for j in range(32):
    L, h = j // 2, j % 2
    r, qd = L // 2, L % 2
    w(f"DATA q8vnniQuads<>+{2*j}(SB)/2, ${16*qd + 8*h + r}")
w("GLOBL q8vnniQuads<>(SB), RODATA|NOPTR, $64")
w("""
// func q8PackU8VNNI(dst *byte, src *int16, qstride int, nb int, ntok int)
//
// ntok tokens' quants (int16 in [-128, 127], token t at src+t*qstride bytes) for nb blocks to
// unsigned bytes q+128 (the low byte with its top bit flipped), token t at dst+t*nb*32.
TEXT ·q8PackU8VNNI(SB), NOSPLIT, $0-40
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         qstride+16(FP), R8
	MOVL         $0x80808080, AX
	VPBROADCASTD AX, Y1
	MOVQ         ntok+32(FP), DX

q8packtok:
	MOVQ         SI, BX
	MOVQ         nb+24(FP), CX

q8packblock:
	VMOVDQU16    (BX), Z0
	VPMOVWB      Z0, Y0
	VPXOR        Y1, Y0, Y0
	VMOVDQU      Y0, (DI)
	ADDQ         $64, BX
	ADDQ         $32, DI
	DECQ         CX
	JNZ          q8packblock
	ADDQ         R8, SI
	DECQ         DX
	JNZ          q8packtok
	VZEROUPPER
	RET""")

name = "q8g8DPBUSD"
w(f'''
// func {name}(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int)
//
// q8g8VNNI with VPDPBUSD: the tokens' quants as bytes q+128 from q8PackU8VNNI (token t at
// xu+t*ustride). Per pair of quads VPERMW puts each row's four columns of each in a lane
// (2r and 2r+1), one VPBROADCASTQ a token's eight bytes for them. Z13 is 128 x the rows'
// block sums of weights, negated; Z14 bytes of 128; Z28/Z29 the weight pairs' permutation and
// the scales' duplication. Frame: 0 the groups left, 8/16 the group's w and s, 24 its out.
{frame_prologue(name, "ustride")}
	VMOVDQU32 q8vnniQuads<>(SB), Z28
	VMOVDQU32 q8vnniTwice<>(SB), Z29
	MOVL      $0x80808080, AX
	VPBROADCASTD AX, Z14

{name}group:
	MOVQ      8(SP), SI
	MOVQ      16(SP), BX
	MOVQ      xu+16(FP), DI
	MOVQ      xd+24(FP), DX
	MOVQ      nb+32(FP), CX''')
for t in range(8):
    w(f"\tVPXORD    Z{16+t}, Z{16+t}, Z{16+t}")
w(f"""
{name}block:
\tPREFETCHT0 {PFD}(SI)
\tPREFETCHT0 {PFD}+64(SI)
\tPREFETCHT0 {PFD}+128(SI)
\tPREFETCHT0 {PFD}+192(SI)
\tVPXORD    Z13, Z13, Z13""")
for k in range(4):
    w(f"\tVPERMW    {64*k}(SI), Z28, Z{8+k}")
    w(f"\tVPDPBUSD  Z{8+k}, Z14, Z13")
w("\tVPXORD    Z15, Z15, Z15\n\tVPSUBD    Z13, Z15, Z13")
for k in range(4):
    for t in range(8):
        tmp = 24 + t % 4
        if k == 0:
            w(f"\tVMOVDQA32 Z13, Z{t}")
        w(f"\tVPBROADCASTQ {8*k}{xtoks[t]}, Z{tmp}")
        w(f"\tVPDPBUSD  Z{8+k}, Z{tmp}, Z{t}")
w("\tVCVTPH2PS (BX), Y12\n\tVPERMPS   Z12, Z29, Z12\n\tMOVQ      DX, AX")
scale_sums(8, 4, fold_pairs)
block_tail(name, 32)
for t in range(8):
    w(f"\tVPMOVQD   Z{16+t}, Y{16+t}")
out_tail(name, 8, "Y", "group", 1, 32)

# ---- eight tokens with VPDPBUSD over pairs of groups: sixteen rows a register, one lane a
# row. q8g8DPBUSD's registers hold eight rows in lanes 2r and 2r+1, which cost a shuffle and an
# add per token and block to combine, and a scale multiply and FMA per eight rows; with two
# groups side by side (the first group's quad c in the low half, the second's in the high half,
# VPERMW putting row r's four columns in lane r) a token's block needs one VPDPBUSD per quad and
# its scaling serves sixteen rows. Same integer sums, same float operations per row: the
# outputs are q8g8DPBUSD's (and the AVX2 kernels') bit for bit.
# Tried and not kept (2026-12-04, Zen 5): the roles swapped, the tokens' quants signed (four
# bytes as VPDPBUSD's broadcast memory operand) and the weights made unsigned by a VPXORD, the
# +128 then costing 128 x the token's block sum (packed with the bytes) instead of this ninth
# VPDPBUSD per quad. In L2 it ran faster (BenchmarkQ8Run8 "pairs" 585 to 600 GFLOP/s against
# 540 to 555, with two tokens' bytes taken by VPSHUFD from one load per four quads, since
# loads then bound it), but whole decode steps ran slower: BenchmarkStepProducts n=8
# "forward" on qwen2.5-0.5b, eight alternating rounds, median 35.9 GB/s against 38.6 (all
# VPDPBUSD.BCST, separate broadcasts, the correction at the start or the end of the block:
# all 5 to 7% slower). A kernel's speed in L2 does not say its speed streaming from memory.
# Nor is this kernel bound by its VPDPBUSD: without the ninth one and the VPSUBD (wrong sums,
# for timing only) it ran at the same 535 to 555 GFLOP/s in L2, and with two tokens' broadcasts
# taken by VPSHUFD instead it did not move either (four: slower). With no broadcast loads at
# all (the swapped form, the tokens' bytes from a register, timing only) it reached 620: its
# loads and shuffles together bind it there.
w("""
// q8vnniPairs: two groups' quad c (the first's 32 bytes in words 0-15, the second's in 16-31)
// to dword lanes r (row r of the first: its columns 4c, 4c+1 from word r, 4c+2, 4c+3 from word
// 8+r) and 8+r (the same of the second).""")
for j in range(32):
    L, h = j // 2, j % 2
    g, r = L // 8, L % 8
    w(f"DATA q8vnniPairs<>+{2*j}(SB)/2, ${16*g + 8*h + r}")
w("GLOBL q8vnniPairs<>(SB), RODATA|NOPTR, $64")
# The pairs kernel prefetches each of its two groups' quads pfd bytes ahead, an argument: Go
# picks one pair ahead (q8PairsPrefetch), so that both prefetches land in the next pair's groups
# whatever the matrix's width.
def pairs_kernel(name, scales, T=8):
    """q8g8DPBUSD16, and with scales q8g8DPBUSD16S: the same kernel that also prefetches its two
    groups' scales pfd bytes ahead (for narrow matrices where the tunable pairs-scales is 1; see
    q8PairsScales in q8group.go). With T=4, the same for four tokens (q8g4DPBUSD16,
    q8g4DPBUSD16S)."""
    w(f'''
// func {name}(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int)
//
// q8g8DPBUSD{" for four tokens" if T == 4 else ""} over ng pairs of groups (groups 2i and 2i+1, gstride bytes apart), pair i's
// sixteen sums per token to out+64i. Z13 is 128 x the rows' block sums of weights, taken off
// each token's block sum at the end of the block; R13 is gstride, the second group's offset.
// Each block prefetches the two groups' quants pfd bytes ahead{" and their scales too" if scales else ""}.
// Frame: 0 the pairs left, 8/16 the pair's w and s, 24 its out.
{frame_prologue(name, "ustride", 104)}
	VMOVDQU32 q8vnniPairs<>(SB), Z28
	MOVL      $0x80808080, AX
	VPBROADCASTD AX, Z14

{name}pair:
	MOVQ      8(SP), SI
	MOVQ      16(SP), BX
	MOVQ      xu+16(FP), DI
	MOVQ      xd+24(FP), DX
	MOVQ      nb+32(FP), CX
	MOVQ      gstride+88(FP), R13''')
    for t in range(T):
        w(f"\tVPXORD    Z{16+t}, Z{16+t}, Z{16+t}")
    w(f"""
{name}block:
\tMOVQ      pfd+96(FP), AX
\tADDQ      SI, AX
\tPREFETCHT0 (AX)
\tPREFETCHT0 64(AX)
\tPREFETCHT0 128(AX)
\tPREFETCHT0 192(AX)
\tPREFETCHT0 (AX)(R13*1)
\tPREFETCHT0 64(AX)(R13*1)
\tPREFETCHT0 128(AX)(R13*1)
\tPREFETCHT0 192(AX)(R13*1)""")
    if scales:
        # The two groups' scales of the block pfd bytes ahead: a line holds four blocks'
        # scales, so three of four ask for a line already asked for.
        w("\tMOVQ      pfd+96(FP), AX\n\tADDQ      BX, AX\n\tPREFETCHT0 (AX)\n\tPREFETCHT0 (AX)(R13*1)")
    w("\tVPXORD    Z13, Z13, Z13")
    for t in range(T):
        w(f"\tVPXORD    Z{t}, Z{t}, Z{t}")
    for c in range(8):
        wr = 8 + c % 2
        w(f"\tVMOVDQU   {32*c}(SI), Y{wr}")
        w(f"\tVINSERTI64X4 $1, {32*c}(SI)(R13*1), Z{wr}, Z{wr}")
        w(f"\tVPERMW    Z{wr}, Z28, Z{wr}")
        w(f"\tVPDPBUSD  Z{wr}, Z14, Z13")
        for t in range(T):
            tmp = 24 + t % 4
            w(f"\tVPBROADCASTD {4*c}{xtoks[t]}, Z{tmp}")
            w(f"\tVPDPBUSD  Z{wr}, Z{tmp}, Z{t}")
    w("\tVCVTPH2PS (BX), Y12\n\tVCVTPH2PS (BX)(R13*1), Y15\n\tVINSERTF32X8 $1, Y15, Z12, Z12\n\tMOVQ      DX, AX")
    # One lane a row: only the 128 x block sums of weights to take off.
    scale_sums(T, 4, lambda t, tmp: [f"\tVPSUBD    Z13, Z{t}, Z{t}"])
    block_tail(name, 32)
    out_tail(name, T, "Z", "pair", 2, 64)


pairs_kernel("q8g8DPBUSD16", False)
pairs_kernel("q8g8DPBUSD16S", True)
pairs_kernel("q8g4DPBUSD16", False, 4)
pairs_kernel("q8g4DPBUSD16S", True, 4)

open('q8vnni_amd64.s', 'w').write(align_functions("\n".join(x for x in v if x != "") + "\n"))
