"""Writes the benchmark models as attn IR, one file per shape.

Usage: make_models.py OUTDIR [--tiny]

The shapes are issue 6's: bf16 GEMMs (large square), an f32 GEMM (the
LSTM's and minGRU's projections are f32; bench/prepare.sh compiles it
for each --f32-matmul mode), attention forward at
head dim 128 in bf16 (causal and not, S = 4096), the LSTM at T = 512,
H = I = 1024 for batch 1, 16 and 64 (f32, as torch.nn.LSTM runs on cuDNN
by default, and bf16, whose weights issue 6's per-step bound streams),
and the minGRU at T = 65536 (f32), whole and as its scan
alone (the bandwidth benchmark). --tiny writes the same
graphs at small odd sizes, for a dry run on the emulation device.
Prints one line per model: name and its FLOP count.
"""
import argparse
import os


def gemm(name, m, n, k, dtype):
    t = f"x{dtype}"
    return name, f"""attn.graph @{name}(%a: tensor<{m}x{k}{t}>, %b: tensor<{k}x{n}{t}>) -> tensor<{m}x{n}{t}> {{
  %c = attn.matmul %a, %b : tensor<{m}x{k}{t}>, tensor<{k}x{n}{t}> -> tensor<{m}x{n}{t}>
  attn.return %c : tensor<{m}x{n}{t}>
}}
""", 2 * m * n * k


def attention(name, b, h, s, d, causal, dtype):
    t = f"x{dtype}"
    shape = f"tensor<{b}x{h}x{s}x{d}{t}>"
    flag = " causal offset 0" if causal else ""
    flops = 4 * b * h * s * s * d // (2 if causal else 1)
    return name, f"""attn.graph @{name}(%q: {shape}, %k: {shape}, %v: {shape}) -> {shape} {{
  %o = attn.attention %q, %k, %v scale {1.0 / d ** 0.5!r}{flag} : {shape}, {shape}, {shape} -> {shape}
  attn.return %o : {shape}
}}
""", flops


def lstm(name, t, b, i, h, dtype="f32"):
    ty = f"x{dtype}"
    step = f"tensor<{b}x{h}{ty}>"
    return name, f"""attn.graph @{name}(%xs: tensor<{t}x{b}x{i}{ty}>, %h0: {step}, %c0: {step},
    %w: tensor<{i}x{4*h}{ty}>, %u: tensor<{h}x{4*h}{ty}>, %bias: tensor<{4*h}{ty}>)
    -> (tensor<{t}x{b}x{h}{ty}>, {step}, {step}) {{
  %hs, %hT, %cT = attn.scan dim 0 ins(%x = %xs : tensor<{t}x{b}x{i}{ty}>)
      carry(%hh = %h0 : {step}, %cc = %c0 : {step}) -> (tensor<{t}x{b}x{h}{ty}>, {step}, {step}) {{
    %xw = attn.matmul %x, %w : tensor<{b}x{i}{ty}>, tensor<{i}x{4*h}{ty}> -> tensor<{b}x{4*h}{ty}>
    %hu = attn.matmul %hh, %u : {step}, tensor<{h}x{4*h}{ty}> -> tensor<{b}x{4*h}{ty}>
    %s = attn.add %xw, %hu : tensor<{b}x{4*h}{ty}>, tensor<{b}x{4*h}{ty}> -> tensor<{b}x{4*h}{ty}>
    %z = attn.add %s, %bias : tensor<{b}x{4*h}{ty}>, tensor<{4*h}{ty}> -> tensor<{b}x{4*h}{ty}>
    %zi, %zf, %zg, %zo = attn.split %z dim 1 : tensor<{b}x{4*h}{ty}> -> {step}, {step}, {step}, {step}
    %ig = attn.sigmoid %zi : {step}
    %fg = attn.sigmoid %zf : {step}
    %gg = attn.tanh %zg : {step}
    %og = attn.sigmoid %zo : {step}
    %fc = attn.mul %fg, %cc : {step}, {step} -> {step}
    %ic = attn.mul %ig, %gg : {step}, {step} -> {step}
    %cn = attn.add %fc, %ic : {step}, {step} -> {step}
    %tc = attn.tanh %cn : {step}
    %hn = attn.mul %og, %tc : {step}, {step} -> {step}
    attn.yield %hn, %hn, %cn : {step}, {step}, {step}
  }}
  attn.return %hs, %hT, %cT : tensor<{t}x{b}x{h}{ty}>, {step}, {step}
}}
""", 8 * t * b * h * (i + h)


def mingru(name, t, b, i, h):
    ty = "xf32"
    step = f"tensor<{b}x{h}{ty}>"
    return name, f"""attn.graph @{name}(%xs: tensor<{t}x{b}x{i}{ty}>, %h0: {step},
    %wz: tensor<{i}x{h}{ty}>, %wh: tensor<{i}x{h}{ty}>) -> (tensor<{t}x{b}x{h}{ty}>, {step}) {{
  %hs, %hT = attn.scan dim 0 ins(%x = %xs : tensor<{t}x{b}x{i}{ty}>)
      carry(%hh = %h0 : {step}) -> (tensor<{t}x{b}x{h}{ty}>, {step}) {{
    %zx = attn.matmul %x, %wz : tensor<{b}x{i}{ty}>, tensor<{i}x{h}{ty}> -> {step}
    %z = attn.sigmoid %zx : {step}
    %ht = attn.matmul %x, %wh : tensor<{b}x{i}{ty}>, tensor<{i}x{h}{ty}> -> {step}
    %one = attn.splat 1.0 : tensor<1{ty}>
    %omz = attn.sub %one, %z : tensor<1{ty}>, {step} -> {step}
    %ah = attn.mul %omz, %hh : {step}, {step} -> {step}
    %zh = attn.mul %z, %ht : {step}, {step} -> {step}
    %hn = attn.add %ah, %zh : {step}, {step} -> {step}
    attn.yield %hn, %hn : {step}, {step}
  }}
  attn.return %hs, %hT : tensor<{t}x{b}x{h}{ty}>, {step}
}}
""", 4 * t * b * i * h


def mingru_scan(name, t, b, h):
    """The minGRU's recurrence alone, after its projections: the gate
    pre-activation zx and the candidate ht are inputs, so the model is the
    scan kernel (with a = 1 - sigmoid(zx) and b = sigmoid(zx) ht computed as
    they are read), which reads 2 and writes 1 float per step and channel:
    the bandwidth benchmark. Its "flops" are those bytes."""
    ty = "xf32"
    step = f"tensor<{b}x{h}{ty}>"
    seq = f"tensor<{t}x{b}x{h}{ty}>"
    return name, f"""attn.graph @{name}(%zxs: {seq}, %hts: {seq}, %h0: {step}) -> ({seq}, {step}) {{
  %hs, %hT = attn.scan dim 0 ins(%zx = %zxs : {seq}, %ht = %hts : {seq})
      carry(%hh = %h0 : {step}) -> ({seq}, {step}) {{
    %z = attn.sigmoid %zx : {step}
    %one = attn.splat 1.0 : tensor<1{ty}>
    %omz = attn.sub %one, %z : tensor<1{ty}>, {step} -> {step}
    %ah = attn.mul %omz, %hh : {step}, {step} -> {step}
    %zh = attn.mul %z, %ht : {step}, {step} -> {step}
    %hn = attn.add %ah, %zh : {step}, {step} -> {step}
    attn.yield %hn, %hn : {step}, {step}
  }}
  attn.return %hs, %hT : {seq}, {step}
}}
""", 3 * t * b * h * 4


def models(tiny):
    if tiny:
        return [gemm("gemm_bf16", 37, 72, 200, "bf16"),  # K, N multiples of 8: wgmma on sm_90a
                gemm("gemm_f32", 37, 72, 200, "f32"),
                attention("attention_bf16", 1, 2, 19, 64, False, "bf16"),  # head dim 64: wgmma on sm_90a
                attention("attention_causal_bf16", 1, 2, 70, 64, True, "bf16"),
                lstm("lstm_b3", 5, 3, 7, 11),
                lstm("lstm_bf16_b3", 5, 3, 7, 11, "bf16"),
                mingru("mingru", 33, 2, 5, 9),
                mingru_scan("mingru_scan", 70, 2, 9)]
    return [gemm("gemm_bf16_4096", 4096, 4096, 4096, "bf16"),
            gemm("gemm_bf16_8192", 8192, 8192, 8192, "bf16"),
            gemm("gemm_f32_4096", 4096, 4096, 4096, "f32"),
            attention("attention_bf16_s4096", 4, 16, 4096, 128, False, "bf16"),
            attention("attention_causal_bf16_s4096", 4, 16, 4096, 128, True, "bf16"),
            lstm("lstm_b1", 512, 1, 1024, 1024),
            lstm("lstm_b16", 512, 16, 1024, 1024),
            lstm("lstm_b64", 512, 64, 1024, 1024),
            lstm("lstm_bf16_b1", 512, 1, 1024, 1024, "bf16"),
            lstm("lstm_bf16_b16", 512, 16, 1024, 1024, "bf16"),
            lstm("lstm_bf16_b64", 512, 64, 1024, 1024, "bf16"),
            mingru("mingru_t65536", 65536, 1, 512, 512),
            mingru_scan("mingru_scan_t65536", 65536, 1, 512)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("outdir")
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    for name, text, flops in models(args.tiny):
        with open(os.path.join(args.outdir, name + ".ir"), "w") as f:
            f.write(f"// Benchmark model written by bench/make_models.py; {flops} flops.\n")
            f.write(text)
        print(f"{name} {flops}")


if __name__ == "__main__":
    main()
