#!/bin/bash
# Makes the benchmark models and compiles them to model files, here, where
# attnc is built (the GPU machine has only the toolkit, the driver and
# PyTorch): bench/build/models/<name>.{ir,cubin}, full size for sm_90a
# (the H200 with its architecture-specific wgmma), the bf16 GEMMs and
# attention also for sm_90 as <name>_sm90.cubin (mma.sync), the f32 GEMM
# also with --f32-matmul=simt and tf32 as <name>_simt.cubin and
# <name>_tf32.cubin (the default is 3xTF32), the f32 LSTMs also with
# --f32-matmul=tf32 as <name>_tf32.cubin and (but at batch 1, where both
# are FMAs) simt as <name>_simt.cubin, at batch 1 with
# --recurrence-exchange=barrier as <name>_barrier.cubin, the minGRU
# scan with --scan-lookahead=8 as <name>_k8.cubin, and
# bench/build/tiny/ for
# the dry run, and bench/build/checks/ for the hardware checks.
set -euo pipefail
cd "$(dirname "$0")"
attnc=${ATTNC:-../build/bin/attnc}
# A persistent recurrence runs a block per SM, all resident at once: the
# full-size LSTMs are also compiled for sm_90 GPUs with fewer SMs than the
# H200's 132 (an H100 PCIe has 114), into build/models/sms<N>/, which
# gpu_bench.py uses on such a GPU.
fewer_sms="114"
lstm() { # IR OUT [FLAGS...]: an LSTM for sm_90a, and per SM count above
  local ir=$1 out=$2; shift 2
  "$attnc" "$ir" --arch sm_90a "$@" -o "$out"
  if [ "$kind" = models ]; then
    for n in $fewer_sms; do
      mkdir -p "build/models/sms$n"
      "$attnc" "$ir" --arch sm_90a --sms "$n" "$@" \
        -o "build/models/sms$n/$(basename "$out")"
    done
  fi
}
for kind in models tiny; do
  rm -rf "build/$kind" # no model files left from renamed models
  flag=""; [ "$kind" = tiny ] && flag="--tiny"
  python3 make_models.py "build/$kind" $flag > /dev/null
  for ir in build/$kind/*.ir; do
    case "$(basename "$ir")" in
      lstm*) lstm "$ir" "${ir%.ir}.cubin" ;;
      *) "$attnc" "$ir" --arch sm_90a -o "${ir%.ir}.cubin" ;;
    esac
    case "$(basename "$ir")" in
      gemm_bf16*|attention_*) "$attnc" "$ir" --arch sm_90 -o "${ir%.ir}_sm90.cubin" ;;
      mingru_scan*) # the look-back eight chunks a round against sixteen
        "$attnc" "$ir" --arch sm_90a --scan-lookahead=8 -o "${ir%.ir}_k8.cubin" ;;
      gemm_f32*)
        for mode in simt tf32; do
          "$attnc" "$ir" --arch sm_90a --f32-matmul=$mode -o "${ir%.ir}_$mode.cubin"
        done ;;
      lstm_b[0-9]*) # _tf32 against cuDNN with TF32 on, PyTorch's default
        # there; _simt, the FMA product, against the default (3xTF32 from
        # batch 9) where the two differ
        lstm "$ir" "${ir%.ir}_tf32.cubin" --f32-matmul=tf32
        case "$(basename "$ir")" in
          lstm_b1.ir) # the grid barrier every step, against the tagged
            # exchange of the state (the default at this batch)
            lstm "$ir" "${ir%.ir}_barrier.cubin" --recurrence-exchange=barrier ;;
          *) lstm "$ir" "${ir%.ir}_simt.cubin" --f32-matmul=simt ;;
        esac ;;
    esac
  done
done
# The hardware checks: the GPU tests' odd-shape models, with inputs and
# f64 references (bench/hardware_checks.py).
rm -rf build/checks
# Each runs in its own process on the GPU; the wgmma ones last.
examples="rnn_small lstm_small gru_small mingru_small mha_small
  mha_causal_gqa_small transformer_block_small"
checks="scan_chunks scan_lookback lstm_resident_b1 lstm_resident_b5 rnn_staged_chunks
  rnn_streamed_ring lstm_depth4 lstm_gate_reshape lstm_gate_concat
  gemm_f32_wide gemm_tf32_shapes lstm_tf32_b32 rnn_tf32_staged lstm_bf16_b17
  rnn_f16_b130 lstm_bf16_b300 gemm_16bit
  attention_16bit attention_finite_mask lstm_resident_b13 gemm_tf32_shapes@tf32 lstm_resident_b5@tf32 lstm_resident_b13@tf32
  lstm_tagged_b3 lstm_resident_b1@barrier lstm_bf16_tagged_b2 lstm_bf16_tagged_b2@barrier
  shared_operands gemm_shared gemm_shared_types gemm_wgmma attention_wgmma"
ATTNC="$attnc" python3 hardware_checks.py prepare build/checks \
  $(for m in $examples; do echo ../examples/$m.ir; done) \
  $(for m in $checks; do
      case "$m" in # NAME@MODE: compiled with --f32-matmul=MODE (or
        # --recurrence-exchange=MODE: hardware_checks.py)
        *@*) echo "../test/Target/Inputs/${m%@*}.ir@${m#*@}" ;;
        *) echo "../test/Target/Inputs/$m.ir" ;;
      esac
    done)
echo "bench models in $(pwd)/build/{models,tiny,checks}"
