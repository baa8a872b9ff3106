//===- device.h - the attnc device library -----------------------*- C++ -*-===//
//
// What every generated kernel includes: storage types, loads and stores
// that convert to and from the f32 compute type, the activation functions
// with the interpreter's formulas, block reductions and a grid-wide
// barrier. The same text compiles under NVRTC for the GPU and, with
// ATTNC_EMU defined, with the host C++ compiler against the emulation
// layer (runtime/emu/attnc/emu.h), so CPU runs execute the exact source the
// GPU runs. Generated code declares shared memory only through
// ATTNC_SHARED / ATTNC_DYNAMIC_SHARED, which the emulation maps to one
// arena per block.
//
//===----------------------------------------------------------------------===//

#ifndef ATTNC_DEVICE_DEVICE_H
#define ATTNC_DEVICE_DEVICE_H

#if defined(ATTNC_EMU)
#include "attnc/emu.h"
#include <cmath>
#else
#define ATTNC_SHARED(type, name, count) __shared__ type name[count]
#define ATTNC_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#endif

#include "attnc/numerics.h"

/// Index arithmetic is 32-bit when the compiler knows every tensor of the
/// model has fewer than 2^31 elements (it then defines
/// ATTNC_INDEX_32): GPUs have no 64-bit integer divide, and the division
/// and modulo of index computations would otherwise be long routines.
#if defined(ATTNC_INDEX_32)
typedef int attnc_index;
#else
typedef long long attnc_index;
#endif

/// Storage types. Distinct structs, not typedefs of unsigned short, so
/// loads and stores overload on them.
struct attnc_f16 { unsigned short bits; };
struct attnc_bf16 { unsigned short bits; };
struct attnc_i1 { unsigned char value; };

//===----------------------------------------------------------------------===//
// Loads, stores and rounding (compute is f32)
//===----------------------------------------------------------------------===//

__device__ __forceinline__ float attnc_load(const float *p, attnc_index i) {
  return p[i];
}
// On the GPU the conversions are single cvt instructions (round to nearest
// even, like numerics.h, which the CPU emulation and the interpreter use);
// the software versions would cost code size and compile time in every
// kernel that touches f16 or bf16.
__device__ __forceinline__ float attnc_f16_to_float(unsigned short bits) {
#if defined(ATTNC_EMU)
  return attnc_numerics::halfBitsToFloat(bits);
#else
  float v;
  asm("cvt.f32.f16 %0, %1;" : "=f"(v) : "h"(bits));
  return v;
#endif
}
__device__ __forceinline__ unsigned short attnc_float_to_f16(float v) {
#if defined(ATTNC_EMU)
  return attnc_numerics::floatToHalfBits(v);
#else
  unsigned short bits;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(bits) : "f"(v));
  return bits;
#endif
}
__device__ __forceinline__ unsigned short attnc_float_to_bf16(float v) {
#if defined(ATTNC_EMU)
  return attnc_numerics::floatToBFloat16Bits(v);
#else
  unsigned short bits;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(bits) : "f"(v));
  return bits;
#endif
}

__device__ __forceinline__ float attnc_load(const attnc_f16 *p, attnc_index i) {
  return attnc_f16_to_float(p[i].bits);
}
__device__ __forceinline__ float attnc_load(const attnc_bf16 *p, attnc_index i) {
  return attnc_numerics::bfloat16BitsToFloat(p[i].bits);
}
__device__ __forceinline__ float attnc_load(const attnc_i1 *p, attnc_index i) {
  return p[i].value ? 1.0f : 0.0f;
}

/// attnc_load issued where it stands, as far as NVVM goes: it does not
/// move these down to their first use, past branches (a division's slow
/// path) that then keep the loads after them from issuing early; since a
/// GPU issues in order, a warp whose loads each sit just before their use
/// waits one memory latency per load. ptxas may still move them down
/// between arithmetic within a basic block, so a kernel that needs many
/// loads in flight copies them with cp.async instead where it can
/// (attnc_cp_async_4: the scan's f32 inputs, EmitScan.cpp) and uses these
/// for other types. Read-only data, as attnc_load's inputs are
/// (ld.global.nc).
#if defined(ATTNC_EMU)
template <typename T>
__device__ __forceinline__ float attnc_load_early(const T *p, attnc_index i) {
  return attnc_load(p, i);
}
#else
__device__ __forceinline__ float attnc_load_early(const float *p,
                                                  attnc_index i) {
  float v;
  asm volatile("ld.global.nc.f32 %0, [%1];" : "=f"(v) : "l"(p + i));
  return v;
}
__device__ __forceinline__ float attnc_load_early(const attnc_f16 *p,
                                                  attnc_index i) {
  unsigned short bits;
  asm volatile("ld.global.nc.b16 %0, [%1];" : "=h"(bits) : "l"(p + i));
  return attnc_f16_to_float(bits);
}
__device__ __forceinline__ float attnc_load_early(const attnc_bf16 *p,
                                                  attnc_index i) {
  unsigned short bits;
  asm volatile("ld.global.nc.b16 %0, [%1];" : "=h"(bits) : "l"(p + i));
  return attnc_numerics::bfloat16BitsToFloat(bits);
}
__device__ __forceinline__ float attnc_load_early(const attnc_i1 *p,
                                                  attnc_index i) {
  unsigned short value;
  asm volatile("ld.global.nc.u8 %0, [%1];" : "=h"(value) : "l"(p + i));
  return value ? 1.0f : 0.0f;
}
#endif

__device__ __forceinline__ void attnc_store(float *p, attnc_index i, float v) {
  p[i] = v;
}
__device__ __forceinline__ void attnc_store(attnc_f16 *p, attnc_index i, float v) {
  p[i].bits = attnc_float_to_f16(v);
}
__device__ __forceinline__ void attnc_store(attnc_bf16 *p, attnc_index i, float v) {
  p[i].bits = attnc_float_to_bf16(v);
}
__device__ __forceinline__ void attnc_store(attnc_i1 *p, attnc_index i, float v) {
  p[i].value = v != 0.0f ? 1 : 0;
}

/// Asks L2 to fetch the 128-byte line holding `p`, which the caller will
/// read later: a hint, nothing waits for it. The emulation reads the byte,
/// so a prefetch outside its buffer fails there as a load would.
__device__ __forceinline__ void attnc_prefetch_l2(const void *p) {
#if defined(ATTNC_EMU)
  (void)*static_cast<const volatile char *>(p);
#else
  asm volatile("prefetch.global.L2 [%0];" ::"l"(p));
#endif
}

/// Rounding an f32 value to what a tensor of that type can hold: each op
/// result is rounded to its type, as the interpreter does.
__device__ __forceinline__ float attnc_round_f16(float v) {
  return attnc_f16_to_float(attnc_float_to_f16(v));
}
__device__ __forceinline__ float attnc_round_bf16(float v) {
  return attnc_numerics::bfloat16BitsToFloat(attnc_float_to_bf16(v));
}
__device__ __forceinline__ float attnc_round_i1(float v) {
  return v != 0.0f ? 1.0f : 0.0f;
}

//===----------------------------------------------------------------------===//
// Activations (the formulas of the attn ops' descriptions)
//===----------------------------------------------------------------------===//

// The sigmoid's and SiLU's divisions are by 1 + e^-x, at least 1 (or
// infinite), where __fdividef is within 2 ulp up to 2^126 and 0 above
// (sigmoid(x) below about -87.3 is then 0 instead of under 1e-38), with
// no slow path:
// IEEE division's check for its slow path is a branch, which keeps ptxas
// from interleaving independent work across it (the three sigmoids of an
// LSTM step's gates ran one after another). The emulation divides
// exactly.
__device__ __forceinline__ float attnc_sigmoid(float x) {
  return __fdividef(1.0f, 1.0f + expf(-x));
}
__device__ __forceinline__ float attnc_gelu(float x) {
  // Exact GELU: x * (1 + erf(x / sqrt(2))) / 2.
  return 0.5f * x * (1.0f + erff(x * 0.70710678118654752440f));
}
__device__ __forceinline__ float attnc_silu(float x) {
  return __fdividef(x, 1.0f + expf(-x));
}
__device__ __forceinline__ float attnc_relu(float x) { return fmaxf(x, 0.0f); }
__device__ __forceinline__ float attnc_rsqrt(float x) {
  return 1.0f / sqrtf(x);
}
/// 2^x for the attention softmax: one MUFU.EX2 (ex2.approx.ftz, relative
/// error about 2^-22). exp2f keeps subnormal results, for which ptxas
/// wraps each ex2 in a compare and two multiplies; a softmax weight below
/// 2^-126 of the row's largest is zero in any output type, so flushing
/// it loses nothing. The emulation computes exp2 exactly and flushes the
/// same way.
__device__ __forceinline__ float attnc_exp2_ftz(float x) {
#if defined(ATTNC_EMU)
  float y = exp2f(x);
  return y < 1.17549435e-38f ? 0.0f : y;
#else
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
#endif
}
/// sin and cos of one argument; on the GPU with one range reduction.
__device__ __forceinline__ void attnc_sincos(float x, float *sine,
                                             float *cosine) {
#if defined(ATTNC_EMU)
  *sine = sinf(x);
  *cosine = cosf(x);
#else
  sincosf(x, sine, cosine);
#endif
}

//===----------------------------------------------------------------------===//
// Block reductions: warp shuffles, then one value per warp through shared
// memory. `scratch` holds at least 32 floats; every thread of the block
// must call, and all get the result.
//===----------------------------------------------------------------------===//

__device__ __forceinline__ float attnc_warp_sum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}
__device__ __forceinline__ float attnc_warp_max(float v) {
  for (int offset = 16; offset > 0; offset >>= 1)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

__device__ __forceinline__ float attnc_block_sum(float v, float *scratch) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int warps = (blockDim.x + 31) >> 5;
  v = attnc_warp_sum(v);
  __syncthreads(); // scratch may still be read by a previous reduction
  if (lane == 0)
    scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : 0.0f;
  return attnc_warp_sum(v);
}

__device__ __forceinline__ float attnc_block_max(float v, float *scratch) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int warps = (blockDim.x + 31) >> 5;
  v = attnc_warp_max(v);
  __syncthreads();
  if (lane == 0)
    scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : -__int_as_float(0x7f800000);
  return attnc_warp_max(v);
}

//===----------------------------------------------------------------------===//
// Grid-wide barrier for cooperative launches
//===----------------------------------------------------------------------===//

/// Every thread of the grid waits until all have arrived. `counter` is a
/// zeroed device word owned by the launch; `epoch` counts the barriers the
/// calling thread has passed (every block passes the same ones, in the
/// same order), so the count that ends this one is known in advance:
/// epoch x blocks. Thread 0 of each block adds its arrival with a
/// reduction, which needs no answer, and spins until the count reaches
/// it: the block that arrives last leaves after one round trip to L2, not
/// the two of an atomic that returns the old count and then a read. The
/// counter never needs resetting between barriers (the comparison is of
/// the difference, so it survives the count wrapping). Correct only when
/// all blocks are co-resident, which a cooperative launch guarantees (or
/// refuses). The emulation has its own primitive, since a spinning fiber
/// would never yield.
///
/// The arrival is a release and the spin reads are acquires, at GPU scope
/// (PTX ISA, memory consistency model): the block's writes, ordered before
/// the arrival by the first __syncthreads, happen before whatever any
/// block does after seeing the count, which the second __syncthreads
/// passes on to its threads. That is all a grid barrier needs, without
/// full fences (membar.gl) around a relaxed atomic; a persistent
/// recurrence pays this once per step.
__device__ __forceinline__ void attnc_grid_sync(unsigned int *counter,
                                                unsigned int &epoch) {
  ++epoch;
#if defined(ATTNC_EMU)
  (void)counter;
  attnc_emu_grid_sync();
#else
  __syncthreads();
  if (threadIdx.x == 0 && threadIdx.y == 0 && threadIdx.z == 0) {
    unsigned int target = epoch * (gridDim.x * gridDim.y * gridDim.z);
    asm volatile("red.release.gpu.global.add.u32 [%0], 1;"
                 :
                 : "l"(counter)
                 : "memory");
    unsigned int seen;
    do {
      asm volatile("ld.acquire.gpu.global.u32 %0, [%1];"
                   : "=r"(seen)
                   : "l"(counter)
                   : "memory");
    } while (static_cast<int>(seen - target) < 0);
  }
  __syncthreads();
#endif
}

//===----------------------------------------------------------------------===//
// Tagged words between blocks (single-pass scans; the form is shared)
//===----------------------------------------------------------------------===//
//
// A scan's chunk publishes its map (A, B) and its final state as 64-bit
// words of value and tag (the f32 bits in the low half, the run's tag in
// the high), each stored by one single-copy atomic relaxed store at GPU
// scope: a reader that sees the tag sees the value stored with it, so no
// fence orders anything, and a look-back round is one L2 round trip (the
// words' loads issued together) where a flag, a fence and then the maps
// took two and a MEMBAR. The tag names the run (EmitScan.cpp), so words an
// earlier run left never match. A vector access is element-wise
// single-copy atomic, which is all the tags need.

/// The tagged word of `value` and `tag` (the recurrences' tagged state
/// has the same form, below).
__device__ __forceinline__ unsigned long long attnc_tagged_word(float value,
                                                                unsigned tag) {
  return (static_cast<unsigned long long>(tag) << 32) | __float_as_uint(value);
}

/// Whether tagged word `w` holds tag `tag`.
__device__ __forceinline__ bool attnc_tagged_is(unsigned long long w,
                                                unsigned tag) {
  return static_cast<unsigned>(w >> 32) == tag;
}

/// The f32 value of tagged word `w`.
__device__ __forceinline__ float attnc_tagged_value(unsigned long long w) {
  return __uint_as_float(static_cast<unsigned>(w));
}

/// Stores the map (a, b) tagged `tag` at `words` (two words, 16-byte
/// aligned).
__device__ __forceinline__ void
attnc_store_tagged_pair(unsigned long long *words, float a, float b,
                        unsigned tag) {
  const unsigned long long wa = attnc_tagged_word(a, tag);
  const unsigned long long wb = attnc_tagged_word(b, tag);
#if defined(ATTNC_EMU)
  attnc_emu_tagged_store(words, wa);
  attnc_emu_tagged_store(words + 1, wb);
#else
  asm volatile("st.relaxed.gpu.global.v2.u64 [%0], {%1, %2};"
               :
               : "l"(words), "l"(wa), "l"(wb)
               : "memory");
#endif
}

/// Loads the tagged word at `word` without waiting.
__device__ __forceinline__ unsigned long long
attnc_load_tagged(const unsigned long long *word) {
#if defined(ATTNC_EMU)
  return attnc_emu_tagged_load(word);
#else
  unsigned long long w;
  asm volatile("ld.relaxed.gpu.global.u64 %0, [%1];"
               : "=l"(w)
               : "l"(word)
               : "memory");
  return w;
#endif
}

/// Loads the two tagged words at `words` (16-byte aligned) without waiting.
__device__ __forceinline__ void
attnc_load_tagged_pair(unsigned long long w[2], const unsigned long long *words) {
#if defined(ATTNC_EMU)
  attnc_emu_tagged_pair_load(w, words);
#else
  asm volatile("ld.relaxed.gpu.global.v2.u64 {%0, %1}, [%2];"
               : "=l"(w[0]), "=l"(w[1])
               : "l"(words)
               : "memory");
#endif
}

#if defined(ATTNC_EMU)
/// A look-back wait under emulation (attnc_wait_chunk).
struct attnc_chunk_wait {
  const unsigned long long *finalWord, *mapWords;
  unsigned long long *final, *map;
  unsigned tag;
};
inline bool attnc_chunk_ready(void *arg) {
  attnc_chunk_wait *wait = static_cast<attnc_chunk_wait *>(arg);
  attnc_emu_chunk_view(wait->final, wait->map, wait->finalWord,
                       wait->mapWords);
  return attnc_tagged_is(*wait->final, wait->tag) ||
         (attnc_tagged_is(wait->map[0], wait->tag) &&
          attnc_tagged_is(wait->map[1], wait->tag));
}
#endif

/// Waits until an earlier chunk has published, under tag `tag`, its final
/// state (`finalWord`) or its map (the two `mapWords`), starting from the
/// words `final` and `map` already loaded and loading again while neither
/// is; returns whether the final state is. Only for chunks whose blocks
/// started earlier (a launch-ordered ticket), so the wait always ends. The
/// emulation suspends the thread instead of spinning, and reports a
/// deadlock if no block can publish.
#if defined(ATTNC_EMU)
__device__ inline bool attnc_wait_chunk(unsigned long long *final,
                                        unsigned long long map[2],
                                        const unsigned long long *finalWord,
                                        const unsigned long long *mapWords,
                                        unsigned tag,
                                        const char *file = __builtin_FILE(),
                                        int line = __builtin_LINE()) {
  // Words loaded earlier are taken as they are when their tags match, as
  // on a GPU: a tag that should not match (a word an earlier run left)
  // then shows.
  if (!attnc_tagged_is(*final, tag) &&
      !(attnc_tagged_is(map[0], tag) && attnc_tagged_is(map[1], tag))) {
    attnc_chunk_wait wait{finalWord, mapWords, final, map, tag};
    attnc_emu_wait_until(attnc_chunk_ready, &wait, file, line);
  }
  return attnc_tagged_is(*final, tag);
}
#else
__device__ __forceinline__ bool
attnc_wait_chunk(unsigned long long *final, unsigned long long map[2],
                 const unsigned long long *finalWord,
                 const unsigned long long *mapWords, unsigned tag) {
  while (!attnc_tagged_is(*final, tag) &&
         !(attnc_tagged_is(map[0], tag) && attnc_tagged_is(map[1], tag))) {
    *final = attnc_load_tagged(finalWord);
    attnc_load_tagged_pair(map, mapWords);
  }
  return attnc_tagged_is(*final, tag);
}
#endif

//===----------------------------------------------------------------------===//
// Tagged state between blocks (persistent recurrences without a barrier)
//===----------------------------------------------------------------------===//
//
// A value and the step it belongs to travel as one 64-bit word (the tag
// in the high half, the f32 bits in the low): the store is single-copy
// atomic, so a reader that sees the tag sees the value with it, and no
// fence orders anything (lib/Target/CUDA/RecurrenceExchange.cpp). Reads
// are relaxed loads at GPU scope, not weak ones, which L1 could serve
// stale for ever.

/// Stores `value` tagged `tag` at element `e` of `words`.
__device__ __forceinline__ void attnc_store_tagged(unsigned long long *words,
                                                   attnc_index e, float value,
                                                   unsigned tag) {
  const unsigned long long word = attnc_tagged_word(value, tag);
#if defined(ATTNC_EMU)
  attnc_emu_tagged_store(words + e, word);
#else
  asm volatile("st.relaxed.gpu.global.u64 [%0], %1;"
               :
               : "l"(words + e), "l"(word)
               : "memory");
#endif
}

/// Loads the 4 tagged words at `words` into `w` without waiting (nothing
/// when `valid` is false): a thread issues all its loads of a step's state
/// this way before it waits on any (attnc_wait_tagged_16).
__device__ __forceinline__ void attnc_load_tagged_16(
    unsigned long long w[4], const unsigned long long *words, bool valid) {
  if (!valid)
    return;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
#if defined(ATTNC_EMU)
    w[i] = attnc_emu_tagged_load(words + i);
#else
    asm volatile("ld.relaxed.gpu.global.u64 %0, [%1];"
                 : "=l"(w[i])
                 : "l"(words + i)
                 : "memory");
#endif
  }
}

#if defined(ATTNC_EMU)
/// A tagged wait under emulation: four words, one tag; what the check
/// saw when it held is what the wait stores.
struct attnc_tagged_wait {
  const unsigned long long *words;
  unsigned long long *seen;
  unsigned tag;
};
inline bool attnc_tagged_ready(void *arg) {
  const attnc_tagged_wait *wait = static_cast<const attnc_tagged_wait *>(arg);
  for (int i = 0; i < 4; ++i) {
    wait->seen[i] = *(const volatile unsigned long long *)(wait->words + i);
    if (!attnc_tagged_is(wait->seen[i], wait->tag))
      return false;
  }
  return true;
}
#endif

/// Stores the 4 f32 values of the tagged words `w` (loaded from `words`
/// by attnc_load_tagged_16) into `shared` (16 bytes) once all four hold
/// tag `tag`, loading again those that do not; zeros when `valid` is
/// false. The emulation suspends the thread instead of spinning, and
/// reports a deadlock if no block can store the tag.
#if defined(ATTNC_EMU)
__device__ inline void attnc_wait_tagged_16(void *shared, unsigned long long w[4],
                                            const unsigned long long *words,
                                            bool valid, unsigned tag,
                                            const char *file = __builtin_FILE(),
                                            int line = __builtin_LINE()) {
  float *out = static_cast<float *>(shared);
  if (!valid) {
    out[0] = out[1] = out[2] = out[3] = 0.0f;
    return;
  }
  // The words attnc_load_tagged_16 loaded, possibly well before, are
  // taken as they are when their tags match, as on a GPU: a tag that
  // should not match (a copy left by an earlier run) then shows.
  bool loaded = true;
  for (int i = 0; i < 4; ++i)
    loaded &= attnc_tagged_is(w[i], tag);
  if (!loaded) {
    attnc_tagged_wait wait{words, w, tag};
    attnc_emu_wait_until(attnc_tagged_ready, &wait, file, line);
  }
  for (int i = 0; i < 4; ++i)
    out[i] = attnc_tagged_value(w[i]);
}
#else
__device__ __forceinline__ void attnc_wait_tagged_16(
    void *shared, unsigned long long w[4], const unsigned long long *words,
    bool valid, unsigned tag) {
  float4 out = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  if (valid) {
#pragma unroll
    for (int i = 0; i < 4; ++i)
      while (!attnc_tagged_is(w[i], tag))
        asm volatile("ld.relaxed.gpu.global.u64 %0, [%1];"
                     : "=l"(w[i])
                     : "l"(words + i)
                     : "memory");
    out = make_float4(attnc_tagged_value(w[0]), attnc_tagged_value(w[1]),
                      attnc_tagged_value(w[2]), attnc_tagged_value(w[3]));
  }
  *static_cast<float4 *>(shared) = out;
}
#endif

// Tensor-core primitives (mma.sync, ldmatrix), on the GPU as inline PTX and
// under ATTNC_EMU through the emulation's whole-warp exchange.
#include "attnc/mma.h"

// Hopper warpgroup primitives (wgmma, mbarrier), for the sm_90a GEMM.
#include "attnc/warpgroup.h"

#endif // ATTNC_DEVICE_DEVICE_H
