//===- emu.h - CPU emulation of the CUDA device environment ----*- C++ -*-===//
//
// Lets the exact CUDA C++ source that attnc generates for NVRTC also compile
// with a host C++17 compiler and run on the CPU, so that generated kernels can
// be tested on machines without a GPU. It is included (with ATTNC_EMU
// defined) by the device library header that generated kernels include, and
// supplies the CUDA spellings that source uses: qualifiers, dim3 and the
// thread-index built-ins, shared memory (ATTNC_SHARED), barriers, warp
// collectives, atomics, the fast-math intrinsics, a grid-wide barrier for
// cooperative launches (attnc_emu_grid_sync), and the whole-warp exchange
// that attnc/mma.h builds the warp-level matrix instructions on.
//
// Every CUDA thread runs as a fiber (ucontext) on the OS thread that calls
// attnc_emu_launch. Scheduling is cooperative, round-robin and deterministic:
// a fiber runs until it reaches a barrier or warp collective, or returns.
// Because only one fiber runs at a time and switches happen only inside
// those calls, a plain read-modify-write is an atomic operation here, and a
// kernel that spins on memory waiting for another thread never yields (so the
// device library's spinning grid barrier is replaced by attnc_emu_grid_sync).
//
// Thread safety: attnc_emu_launch is not thread-safe and not reentrant. One
// process-wide scheduler serves all launches; concurrent or nested calls are
// refused with an error instead of corrupting it.
//
//===----------------------------------------------------------------------===//

#ifndef ATTNC_EMU_EMU_H
#define ATTNC_EMU_EMU_H

#if defined(__CUDACC__) || defined(__CUDA_ARCH__) || defined(__CUDACC_RTC__)
#error "attnc/emu.h emulates CUDA on the CPU; it must not be compiled as CUDA"
#endif

// Every standard header comes first: the CUDA spellings defined below (for
// example the empty __noinline__) must not leak into library headers.
#include <algorithm>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <math.h>
#include <new>
#include <sys/mman.h>
#include <type_traits>
#include <ucontext.h>
#include <unistd.h>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define ATTNC_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ATTNC_EMU_ASAN 1
#endif
#endif
#ifdef ATTNC_EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

/// Bytes of stack per emulated thread.
#ifndef ATTNC_EMU_STACK_BYTES
#define ATTNC_EMU_STACK_BYTES (256u * 1024u)
#endif
/// Bytes of shared memory per block (static and dynamic together), as much
/// as an sm_90 SM has.
#ifndef ATTNC_EMU_SHARED_BYTES
#define ATTNC_EMU_SHARED_BYTES (228u * 1024u)
#endif
/// Byte that fresh shared memory is filled with, so that reading shared
/// memory before writing it gives NaN / -1 instead of a plausible zero.
#ifndef ATTNC_EMU_SHARED_POISON
#define ATTNC_EMU_SHARED_POISON 0xFF
#endif
/// When 1, the threads of a __syncthreads (or grid barrier) must all wait at
/// the same call. Hardware counts arrivals at any call, but the CUDA
/// Programming Guide makes divergent barriers undefined, and in the
/// emulation they are the usual cause of deadlocks, so they are reported.
#ifndef ATTNC_EMU_MATCH_BARRIER_SITES
#define ATTNC_EMU_MATCH_BARRIER_SITES 1
#endif

// Each .so built from generated code gets its own scheduler: nothing but the
// launch entry point is exported, so two models loaded into one process
// cannot bind each other's emulation state.
#pragma GCC visibility push(hidden)

//===----------------------------------------------------------------------===//
// Qualifiers and built-in types
//===----------------------------------------------------------------------===//

// Function qualifiers mean nothing on the host. __noinline__ and
// __forceinline__ expand to nothing (not to attributes) because libstdc++
// spells __attribute__((__noinline__)) itself.
#ifndef __global__
#define __global__
#endif
#ifndef __device__
#define __device__
#endif
#ifndef __host__
#define __host__
#endif
#ifndef __forceinline__
#define __forceinline__
#endif
#ifndef __noinline__
#define __noinline__
#endif
#define __restrict__ __restrict
#define __launch_bounds__(...)

struct uint3 {
  unsigned x, y, z;
};

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1)
      : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return {x, y, z}; }
};

inline constexpr uint3 make_uint3(unsigned x, unsigned y, unsigned z) {
  return {x, y, z};
}

/// CUDA's 8-byte vector of two floats, for paired stores (attnc_store2).
struct alignas(8) float2 {
  float x, y;
};
inline constexpr float2 make_float2(float x, float y) { return {x, y}; }

/// CUDA's 16-byte vector of four floats (the recurrence reads its operands
/// from shared memory as float4).
struct alignas(16) float4 {
  float x, y, z, w;
};
inline constexpr float4 make_float4(float x, float y, float z, float w) {
  return {x, y, z, w};
}

inline constexpr int warpSize = 32;

namespace attnc_emu {

//===----------------------------------------------------------------------===//
// Limits
//===----------------------------------------------------------------------===//

constexpr unsigned kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr unsigned long long kMaxBlockThreads = 1024;
constexpr unsigned kMaxBlockDimZ = 64;
constexpr unsigned long long kMaxGridDimX = 2147483647ull;
constexpr unsigned kMaxGridDimYZ = 65535;
/// Cooperative launches keep every thread of the grid alive at once (one
/// fiber and one stack each), so they are capped.
constexpr unsigned long long kMaxCooperativeThreads = 65536;
constexpr size_t kStackBytes = ATTNC_EMU_STACK_BYTES;
constexpr size_t kSharedBytes = ATTNC_EMU_SHARED_BYTES;
constexpr size_t kStaticSharedAlign = 16;
constexpr size_t kDynamicSharedAlign = 128;
constexpr unsigned char kSharedPoison = ATTNC_EMU_SHARED_POISON;
/// The lowest bytes of every fiber stack hold this pattern; finding it
/// overwritten when the fiber returns reports a stack overflow that missed
/// the guard page.
constexpr size_t kCanaryBytes = 64;
constexpr unsigned char kCanary = 0xC5;
/// Bytes each lane may pass to attnc_emu_warp_exchange (the warp-level
/// matrix instructions of attnc/mma.h need at most 24).
constexpr size_t kExchangeBytes = 64;
constexpr size_t kMaxGuardPages = 4096;
/// Blocks of a normal (non-cooperative) launch that run at once.
constexpr unsigned long long kResidentBlocks = 4;
/// Shared arenas kept mapped between launches (more are unmapped after a
/// cooperative launch).
constexpr size_t kKeptArenas = 16;

//===----------------------------------------------------------------------===//
// State
//===----------------------------------------------------------------------===//

/// Source position of a barrier call, taken from the caller through
/// __builtin_FILE/__builtin_LINE default arguments.
struct Site {
  const char *file;
  unsigned line;
};

#define ATTNC_EMU_CALL_SITE                                                    \
  const char *attncFile = __builtin_FILE(), int attncLine = __builtin_LINE()
#define ATTNC_EMU_SITE                                                         \
  ::attnc_emu::Site { attncFile, static_cast<unsigned>(attncLine) }

/// What a fiber is doing, as the scheduler sees it.
enum class Wait : unsigned char {
  Ready,        // runnable
  BlockBarrier, // in __syncthreads
  WarpBarrier,  // in __syncwarp or a warp collective
  GridBarrier,  // in attnc_emu_grid_sync
  Poll,         // in attnc_emu_wait_until (an mbarrier wait)
  Done,         // returned from the kernel (or killed by an error)
};
constexpr int kNumWaits = 6;

struct Block;
struct Warp;

/// One emulated CUDA thread.
struct Fiber {
  uint3 threadIdx;
  uint3 blockIdx;
  Block *block;
  Warp *warp;
  unsigned lane;
  /// Lanes (always including this one) that must reach the warp barrier this
  /// fiber waits at before it may continue.
  unsigned warpMask;
  Wait wait;
  /// Where the fiber waits; barriers only match at the same call.
  Site site;
  /// For Wait::Poll: the fiber may continue once pollReady(pollArg) holds.
  bool (*pollReady)(void *);
  void *pollArg;
  /// Next free byte of the block's static shared memory, as this thread sees
  /// it; every thread runs the same ATTNC_SHARED sequence, so every thread of
  /// a block computes the same offsets.
  size_t sharedCursor;
  char *stack;
  void *asanFakeStack;
  ucontext_t context;
};

struct Block {
  uint3 blockIdx;
  Fiber *fibers;
  unsigned numFibers;
  /// Threads that have not returned; returned threads count as arrived at
  /// __syncthreads, as on current GPUs.
  unsigned live;
  unsigned atBarrier; // threads waiting in __syncthreads
  char *arena;
  /// Static shared memory is [0, staticLimit); the dynamic shared memory
  /// fills the rest of the arena.
  size_t staticLimit;
  /// Prefix of the arena already poisoned for this block.
  size_t poisoned;
};

struct Warp {
  unsigned liveMask; // lanes that exist and have not returned
  unsigned waitMask; // lanes waiting at a warp barrier
  Fiber *lanes[kWarpSize];
  /// Exchange buffer of the collectives: each lane publishes here, then
  /// reads the lane it wants after a warp barrier.
  uint64_t slots[kWarpSize];
  /// Wider exchange buffer of attnc_emu_warp_exchange, for instructions
  /// whose operands exceed a shuffle's 8 bytes per lane.
  alignas(16) unsigned char wide[kWarpSize][kExchangeBytes];
};

/// A run of equal slots in one anonymous mapping, kept across launches so
/// that fiber stacks and shared arenas are not remapped for every block.
/// One mapping (instead of one per slot) keeps the mapping count low for
/// large cooperative launches; MAP_NORESERVE means untouched pages cost
/// nothing.
class SlotRegion {
public:
  SlotRegion() = default;
  SlotRegion(const SlotRegion &) = delete;
  SlotRegion &operator=(const SlotRegion &) = delete;
  ~SlotRegion() { release(); }

  /// Makes room for `count` slots of at least `bytes` bytes each, each
  /// preceded by an inaccessible guard page when `guarded`. Contents are not
  /// kept when the region grows.
  bool reserve(size_t count, size_t bytes, bool guarded) {
    size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    size_t stride = (bytes + page - 1) / page * page + (guarded ? page : 0);
    if (count <= count_ && stride == stride_)
      return true;
    release();
    void *base = mmap(nullptr, count * stride, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
      return false;
    base_ = static_cast<char *>(base);
    count_ = count;
    stride_ = stride;
    guard_ = guarded ? page : 0;
    // Each guard page splits the mapping in two, and a process may have only
    // vm.max_map_count (typically 65530) mappings: beyond kMaxGuardPages the
    // stacks rely on their canaries alone, leaving mappings for malloc.
    for (size_t i = 0; guarded && i < count && i < kMaxGuardPages; ++i)
      if (mprotect(base_ + i * stride, page, PROT_NONE) != 0)
        break;
    return true;
  }

  char *slot(size_t i) const { return base_ + i * stride_ + guard_; }
  size_t count() const { return count_; }

  void release() {
    if (base_)
      munmap(base_, count_ * stride_);
    base_ = nullptr;
    count_ = stride_ = guard_ = 0;
  }

private:
  char *base_ = nullptr;
  size_t count_ = 0, stride_ = 0, guard_ = 0;
};

/// Everything one launch needs. Reset at the start of each launch; only the
/// stack and arena regions survive between launches.
struct Scheduler {
  dim3 gridDim, blockDim;
  unsigned threadsPerBlock = 0, warpsPerBlock = 0;
  size_t dynamicBytes = 0; // rounded up to kDynamicSharedAlign
  bool cooperative = false;
  void (*thunk)(void **) = nullptr;
  void **args = nullptr;

  /// The resident threads: a wave of kResidentBlocks blocks in a normal
  /// launch, the whole grid's in a cooperative one.
  std::vector<Fiber> fibers;
  std::vector<Block> blocks;
  std::vector<Warp> warps;
  size_t live = 0;          // resident threads that have not returned
  size_t atGridBarrier = 0; // threads waiting in attnc_emu_grid_sync

  ucontext_t context; // where fibers switch back to
  // Bounds of the scheduler's stack, learnt from ASan on the first switch.
  const void *stackBottom = nullptr;
  size_t stackSize = 0;

  bool failed = false;
  char message[512] = {};
  /// Launches so far: per-thread state kept outside the fibers (pending
  /// asynchronous copies and MMAs) is stale once this changes.
  unsigned long long launches = 0;
  /// Arrivals at grid barriers so far: a store made before the last grid
  /// barrier cannot be read stale after it (attnc_emu_tagged_load).
  unsigned long long gridArrivals = 0;

  SlotRegion stacks, arenas;
  std::atomic<bool> busy{false};
};

inline Scheduler gScheduler;
/// The fiber now running; null in the scheduler and outside launches.
inline Fiber *gCurrent = nullptr;

//===----------------------------------------------------------------------===//
// Diagnostics
//===----------------------------------------------------------------------===//

inline const char *baseName(const char *path) {
  const char *slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

inline bool sameSite(Site a, Site b) {
  return a.line == b.line &&
         (a.file == b.file || std::strcmp(a.file, b.file) == 0);
}

/// "thread (x,y,z) of block (x,y,z)" in a buffer that lives until the end of
/// the full expression that formats it.
struct Where {
  char text[96];
};
inline Where where(const Fiber &f) {
  Where w;
  std::snprintf(w.text, sizeof w.text, "thread (%u,%u,%u) of block (%u,%u,%u)",
                f.threadIdx.x, f.threadIdx.y, f.threadIdx.z, f.blockIdx.x,
                f.blockIdx.y, f.blockIdx.z);
  return w;
}

/// Keeps the first error of a launch; later ones are consequences.
inline void vrecordError(const char *format, va_list ap) {
  Scheduler &s = gScheduler;
  if (s.failed)
    return;
  s.failed = true;
  std::vsnprintf(s.message, sizeof s.message, format, ap);
}

__attribute__((format(printf, 1, 2))) inline void
recordError(const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  vrecordError(format, ap);
  va_end(ap);
}

[[noreturn]] inline void outsideKernel() {
  std::fputs("attnc emu: a CUDA device built-in was used outside a kernel "
             "launched by attnc_emu_launch\n",
             stderr);
  std::abort();
}

inline Fiber &running() {
  Fiber *f = gCurrent;
  if (__builtin_expect(f == nullptr, 0))
    outsideKernel();
  return *f;
}

//===----------------------------------------------------------------------===//
// Fiber switching
//===----------------------------------------------------------------------===//

// ASan must be told about every switch between stacks, or it reports
// false stack-buffer overflows and mis-tracks its fake stacks.
#ifdef ATTNC_EMU_ASAN
inline void asanBeforeSwitch(void **fakeStack, const void *bottom,
                             size_t size) {
  __sanitizer_start_switch_fiber(fakeStack, bottom, size);
}
inline void asanAfterSwitch(void *fakeStack, const void **oldBottom,
                            size_t *oldSize) {
  __sanitizer_finish_switch_fiber(fakeStack, oldBottom, oldSize);
}
inline void asanForgetStack(char *stack) {
  // Frames of fibers abandoned by an error leave poisoned redzones behind.
  __asan_unpoison_memory_region(stack, kStackBytes);
}
#else
inline void asanBeforeSwitch(void **, const void *, size_t) {}
inline void asanAfterSwitch(void *, const void **, size_t *) {}
inline void asanForgetStack(char *) {}
#endif

// A round (see runResident) resumes every runnable fiber once, in thread
// order. Rather than returning to the scheduler after each fiber, a fiber
// that waits or returns switches straight to the next runnable one, and only
// the last of the round switches back to the scheduler: one swapcontext per
// fiber and barrier instead of two (each costs a sigprocmask system call).

/// Starts a round at `f`; returns when the round is over.
inline void resume(Scheduler &s, Fiber &f) {
  gCurrent = &f;
  void *fakeStack = nullptr;
  asanBeforeSwitch(&fakeStack, f.stack, kStackBytes);
  swapcontext(&s.context, &f.context);
  asanAfterSwitch(fakeStack, nullptr, nullptr);
  gCurrent = nullptr;
}

/// The fiber after `f` that the current round still has to run, or null.
inline Fiber *nextInRound(Scheduler &s, Fiber &f) {
  if (s.failed)
    return nullptr;
  Fiber *end = s.fibers.data() + s.fibers.size();
  for (Fiber *next = &f + 1; next != end; ++next)
    if (next->wait == Wait::Ready)
      return next;
  return nullptr;
}

/// Leaves `f` for the next fiber of the round or, at its end, the scheduler.
/// A finished fiber is left for good (its context is not saved); otherwise
/// this returns once a later round resumes `f`.
inline void switchFrom(Fiber &f, bool finished) {
  Scheduler &s = gScheduler;
  Fiber *next = nextInRound(s, f);
  ucontext_t *target = next ? &next->context : &s.context;
  gCurrent = next;
  if (next)
    asanBeforeSwitch(finished ? nullptr : &f.asanFakeStack, next->stack,
                     kStackBytes);
  else
    asanBeforeSwitch(finished ? nullptr : &f.asanFakeStack, s.stackBottom,
                     s.stackSize);
  if (finished) {
    setcontext(target);
    std::abort(); // setcontext returns only on failure
  }
  swapcontext(&f.context, target);
  asanAfterSwitch(f.asanFakeStack, nullptr, nullptr);
}

/// Called on `f`'s own stack: marks it waiting and lets the round go on;
/// comes back once the scheduler has released the wait.
inline void suspend(Fiber &f, Wait why, Site site) {
  f.wait = why;
  f.site = site;
  switchFrom(f, /*finished=*/false);
}

/// Leaves `f`'s stack for good; nothing on it runs again. After an error the
/// round ends here (nextInRound finds nothing), so the scheduler sees it.
[[noreturn]] inline void abandon(Fiber &f) {
  f.wait = Wait::Done;
  switchFrom(f, /*finished=*/true);
  std::abort();
}

/// Ends the launch with an error from inside a kernel. The other fibers are
/// never resumed, so no barrier can hang on the failed thread.
[[noreturn]] __attribute__((format(printf, 1, 2))) inline void
failInFiber(const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  vrecordError(format, ap);
  va_end(ap);
  abandon(running());
}

inline bool canaryIntact(const char *stack) {
  for (size_t i = 0; i < kCanaryBytes; ++i)
    if (static_cast<unsigned char>(stack[i]) != kCanary)
      return false;
  return true;
}

inline void threadExited(Fiber &f) {
  Scheduler &s = gScheduler;
  if (!canaryIntact(f.stack))
    recordError("fiber stack overflow in %s: the kernel needs more than %zu "
                "bytes of stack (raise ATTNC_EMU_STACK_BYTES)",
                where(f).text, kStackBytes);
  f.wait = Wait::Done;
  f.block->live--;
  f.warp->liveMask &= ~(1u << f.lane);
  s.live--;
}

inline void runThunk(Scheduler &s) {
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
  bool threw = false;
  try {
    s.thunk(s.args);
  } catch (...) {
    threw = true;
  }
  // Fail outside the handler: leaving a catch block by switching stacks
  // would leave the exception marked as being handled forever.
  if (threw)
    failInFiber("%s threw a C++ exception", where(running()).text);
#else
  s.thunk(s.args);
#endif
}

/// Entry of every fiber (makecontext passes no arguments; the fiber is
/// gCurrent).
inline void fiberMain() {
  Scheduler &s = gScheduler;
  // The first fiber of a launch is entered from the scheduler: learn its
  // stack (later fibers may be entered from other fibers).
  const void *fromBottom = nullptr;
  size_t fromSize = 0;
  asanAfterSwitch(nullptr, &fromBottom, &fromSize);
  if (!s.stackBottom) {
    s.stackBottom = fromBottom;
    s.stackSize = fromSize;
  }
  runThunk(s);
  Fiber &f = running();
  threadExited(f);
  abandon(f);
}

//===----------------------------------------------------------------------===//
// Barriers
//
// A fiber at a barrier only records that it waits and yields; the scheduler
// releases a barrier once everyone it waits for is there (see
// releaseBarriers), so the arrival order never matters.
//===----------------------------------------------------------------------===//

inline void blockBarrier(Site site) {
  Fiber &f = running();
  f.block->atBarrier++;
  suspend(f, Wait::BlockBarrier, site);
}

/// Waits until every live lane named in `mask` (plus the caller) waits at a
/// warp barrier too.
inline void warpBarrier(unsigned mask, Site site) {
  Fiber &f = running();
  unsigned bit = 1u << f.lane;
  f.warpMask = mask | bit;
  f.warp->waitMask |= bit;
  suspend(f, Wait::WarpBarrier, site);
}

inline void gridBarrier(Site site) {
  Scheduler &s = gScheduler;
  Fiber &f = running();
  if (!s.cooperative)
    failInFiber("attnc_emu_grid_sync() in a non-cooperative launch (%s at "
                "%s:%u): the grid barrier needs a cooperative launch",
                where(f).text, baseName(site.file), site.line);
  s.atGridBarrier++;
  s.gridArrivals++;
  suspend(f, Wait::GridBarrier, site);
}

//===----------------------------------------------------------------------===//
// Warp collectives
//
// Each collective is an exchange through the warp's slots: every lane
// publishes, a warp barrier makes all values visible, every lane reads what it
// needs, and a second warp barrier keeps a fast lane from overwriting its slot
// (in its next collective) before slower lanes have read it.
//===----------------------------------------------------------------------===//

enum class Shuffle { Index, Up, Down, Xor };

/// Source lane of a shuffle, as PTX shfl.sync defines it for the operands
/// CUDA's __shfl*_sync pass: `width` splits the warp into segments; a source
/// before the caller's segment (up) or past it (down, xor) gives the caller
/// its own value.
inline unsigned shuffleSource(Shuffle mode, unsigned lane, unsigned operand,
                              unsigned width) {
  long long first = lane & ~(width - 1);
  long long last = first + width - 1;
  long long source = lane;
  switch (mode) {
  case Shuffle::Index:
    return static_cast<unsigned>(first) | (operand & (width - 1));
  case Shuffle::Up:
    source = static_cast<long long>(lane) - operand;
    return source >= first ? static_cast<unsigned>(source) : lane;
  case Shuffle::Down:
    source = static_cast<long long>(lane) + operand;
    return source <= last ? static_cast<unsigned>(source) : lane;
  case Shuffle::Xor:
    source = lane ^ operand;
    return source <= last ? static_cast<unsigned>(source) : lane;
  }
  return lane;
}

inline const char *shuffleName(Shuffle mode) {
  switch (mode) {
  case Shuffle::Index:
    return "__shfl_sync";
  case Shuffle::Up:
    return "__shfl_up_sync";
  case Shuffle::Down:
    return "__shfl_down_sync";
  case Shuffle::Xor:
    return "__shfl_xor_sync";
  }
  return "shuffle";
}

template <class T>
inline T shuffle(unsigned mask, T value, Shuffle mode, unsigned operand,
                 int width, Site site) {
  static_assert(std::is_trivially_copyable<T>::value &&
                    sizeof(T) <= sizeof(uint64_t),
                "warp shuffles move values of at most 8 bytes");
  Fiber &f = running();
  if (width <= 0 || width > static_cast<int>(kWarpSize) ||
      (width & (width - 1)) != 0)
    failInFiber("%s with width %d (not a power of two in [1, 32]) in %s at "
                "%s:%u",
                shuffleName(mode), width, where(f).text, baseName(site.file),
                site.line);
  Warp &w = *f.warp;
  std::memcpy(&w.slots[f.lane], &value, sizeof(T));
  warpBarrier(mask, site);
  unsigned source =
      shuffleSource(mode, f.lane, operand, static_cast<unsigned>(width));
  T result;
  std::memcpy(&result, &w.slots[source], sizeof(T));
  warpBarrier(mask, site);
  return result;
}

struct Vote {
  unsigned ballot;       // lanes whose predicate was true
  unsigned participants; // live lanes named in the mask
};

inline Vote vote(unsigned mask, int predicate, Site site) {
  Fiber &f = running();
  Warp &w = *f.warp;
  w.slots[f.lane] = predicate != 0;
  warpBarrier(mask, site);
  Vote v{0, (mask | (1u << f.lane)) & w.liveMask};
  for (unsigned lane = 0; lane < kWarpSize; ++lane)
    if ((v.participants >> lane & 1u) && w.slots[lane])
      v.ballot |= 1u << lane;
  warpBarrier(mask, site);
  return v;
}

//===----------------------------------------------------------------------===//
// Whole-warp exchange (warp-level matrix instructions)
//
// mma.sync and ldmatrix (attnc/mma.h) act for the whole warp at once: each
// lane's result depends on every lane's operands. Their .sync.aligned forms
// require all 32 lanes of the warp to execute the same instruction, so the
// exchange insists on the full warp at one call site and fails the launch
// otherwise, rather than waiting forever or mixing the operands of two
// different calls (a warp barrier alone does not compare call sites).
//===----------------------------------------------------------------------===//

inline void requireFullWarp(const Warp &w, const char *what, Site site) {
  if (w.liveMask != kFullMask)
    failInFiber("%s at %s:%u needs all 32 lanes of the warp (.sync.aligned), "
                "but lanes %#010x have returned or do not exist, in %s",
                what, baseName(site.file), site.line, ~w.liveMask,
                where(running()).text);
}

/// Publishes `bytes` bytes at `mine`, waits for the whole warp at the same
/// call, and copies the 32 payloads, in lane order, to `all`.
inline void warpExchange(const void *mine, size_t bytes, void *all,
                         const char *what, Site site) {
  Fiber &f = running();
  Warp &w = *f.warp;
  if (bytes > kExchangeBytes)
    failInFiber("%s at %s:%u exchanges %zu bytes per lane; the emulation "
                "allows %zu",
                what, baseName(site.file), site.line, bytes, kExchangeBytes);
  requireFullWarp(w, what, site);
  std::memcpy(w.wide[f.lane], mine, bytes);
  warpBarrier(kFullMask, site);
  // A lane that returned while the others waited released the barrier.
  requireFullWarp(w, what, site);
  // Lanes released together but waiting at another call (a divergent branch
  // with its own collective) would have published something else. The
  // sites read here are still those of this barrier: no lane can get past
  // the closing barrier (same site) before every lane has looked.
  for (unsigned lane = 0; lane < kWarpSize; ++lane) {
    const Fiber &other = *w.lanes[lane];
    if (!sameSite(other.site, site))
      failInFiber("%s at %s:%u in %s: lane %u of the warp is at %s:%u "
                  "instead (a divergent .sync.aligned instruction)",
                  what, baseName(site.file), site.line, where(f).text, lane,
                  baseName(other.site.file), other.site.line);
  }
  for (unsigned lane = 0; lane < kWarpSize; ++lane)
    std::memcpy(static_cast<unsigned char *>(all) + lane * bytes, w.wide[lane],
                bytes);
}

//===----------------------------------------------------------------------===//
// Shared memory
//===----------------------------------------------------------------------===//

/// Claims `count` elements of `elementBytes` bytes in the current block's
/// static shared memory. Fresh bytes are poisoned once per block, by the
/// first thread that claims them.
inline void *sharedAlloc(size_t elementBytes, unsigned long long count,
                         size_t align, const char *name) {
  Fiber &f = running();
  Block &b = *f.block;
  if (align < kStaticSharedAlign)
    align = kStaticSharedAlign;
  size_t offset = (f.sharedCursor + align - 1) & ~(align - 1);
  size_t bytes = 0;
  if (__builtin_mul_overflow(elementBytes, count, &bytes) ||
      offset > b.staticLimit || bytes > b.staticLimit - offset)
    failInFiber("shared memory overflow: ATTNC_SHARED %s of %llu x %zu bytes "
                "at offset %zu does not fit the %zu bytes left for static "
                "shared memory (arena %zu bytes, %zu dynamic) in %s",
                name, count, elementBytes, offset, b.staticLimit, kSharedBytes,
                kSharedBytes - b.staticLimit, where(f).text);
  f.sharedCursor = offset + bytes;
  if (f.sharedCursor > b.poisoned) {
    std::memset(b.arena + b.poisoned, kSharedPoison,
                f.sharedCursor - b.poisoned);
    b.poisoned = f.sharedCursor;
  }
  return b.arena + offset;
}

inline void *dynamicShared() {
  Block &b = *running().block;
  return b.arena + b.staticLimit;
}

//===----------------------------------------------------------------------===//
// Scheduler
//===----------------------------------------------------------------------===//

/// Fails the launch if the threads waiting at a block or grid barrier are not
/// all at the same call: they wait for each other at different barriers, so
/// none of them can ever proceed.
inline bool sameBarrier(Fiber *begin, Fiber *end, Wait kind,
                        const char *what) {
  if (!ATTNC_EMU_MATCH_BARRIER_SITES)
    return true;
  const Fiber *first = nullptr;
  for (Fiber *f = begin; f != end; ++f) {
    if (f->wait != kind)
      continue;
    if (!first) {
      first = f;
    } else if (!sameSite(first->site, f->site)) {
      recordError("deadlock: threads wait at different %s calls: %s at %s:%u, "
                  "%s at %s:%u",
                  what, where(*first).text, baseName(first->site.file),
                  first->site.line, where(*f).text, baseName(f->site.file),
                  f->site.line);
      return false;
    }
  }
  return true;
}

inline void releaseAll(Fiber *begin, Fiber *end, Wait kind) {
  for (Fiber *f = begin; f != end; ++f)
    if (f->wait == kind)
      f->wait = Wait::Ready;
}

inline bool releaseBlock(Block &b) {
  if (b.atBarrier == 0 || b.atBarrier != b.live)
    return false;
  Fiber *end = b.fibers + b.numFibers;
  if (!sameBarrier(b.fibers, end, Wait::BlockBarrier, "__syncthreads"))
    return false;
  releaseAll(b.fibers, end, Wait::BlockBarrier);
  b.atBarrier = 0;
  return true;
}

/// Releases each waiting lane whose partners (its mask, less returned lanes)
/// all wait too. Disjoint groups of a warp (e.g. two half-warp masks) thus
/// synchronise independently.
inline bool releaseWarp(Warp &w) {
  unsigned released = 0;
  for (unsigned lane = 0; lane < kWarpSize; ++lane) {
    if (!(w.waitMask >> lane & 1u))
      continue;
    unsigned partners = w.lanes[lane]->warpMask & w.liveMask;
    if ((partners & ~w.waitMask) == 0)
      released |= 1u << lane;
  }
  for (unsigned lane = 0; lane < kWarpSize; ++lane)
    if (released >> lane & 1u)
      w.lanes[lane]->wait = Wait::Ready;
  w.waitMask &= ~released;
  return released != 0;
}

inline bool releaseGrid(Scheduler &s) {
  if (s.atGridBarrier == 0 || s.atGridBarrier != s.live)
    return false;
  Fiber *begin = s.fibers.data(), *end = begin + s.fibers.size();
  if (!sameBarrier(begin, end, Wait::GridBarrier, "attnc_emu_grid_sync"))
    return false;
  releaseAll(begin, end, Wait::GridBarrier);
  s.atGridBarrier = 0;
  return true;
}

/// Releases each polling fiber whose condition now holds: the threads that
/// could make it hold ran in the round that just ended.
inline bool releasePollers(Scheduler &s) {
  bool released = false;
  for (Fiber &f : s.fibers)
    if (f.wait == Wait::Poll && f.pollReady(f.pollArg)) {
      f.wait = Wait::Ready;
      released = true;
    }
  return released;
}

/// Releases every barrier that is complete; false if none was.
inline bool releaseBarriers(Scheduler &s) {
  bool released = releasePollers(s);
  for (Warp &w : s.warps)
    if (w.waitMask)
      released |= releaseWarp(w);
  for (Block &b : s.blocks)
    released |= releaseBlock(b);
  released |= releaseGrid(s);
  return released;
}

/// Describes the first block whose threads do not all wait at the grid
/// barrier: its threads wait for each other at incompatible barriers.
inline void reportDeadlock(Scheduler &s) {
  static const char *const kWhat[kNumWaits] = {
      "are runnable", "wait at __syncthreads",
      "wait at __syncwarp or a warp collective", "wait at attnc_emu_grid_sync",
      "wait on an mbarrier or a named barrier", "have returned"};
  for (Block &b : s.blocks) {
    unsigned count[kNumWaits] = {};
    const Fiber *first[kNumWaits] = {};
    for (const Fiber *f = b.fibers; f != b.fibers + b.numFibers; ++f) {
      int kind = static_cast<int>(f->wait);
      if (count[kind]++ == 0)
        first[kind] = f;
    }
    int grid = static_cast<int>(Wait::GridBarrier);
    if (b.live == 0 || count[grid] == b.live)
      continue;
    char text[sizeof s.message];
    int used = std::snprintf(text, sizeof text,
                             "deadlock in block (%u,%u,%u), no barrier can "
                             "complete:",
                             b.blockIdx.x, b.blockIdx.y, b.blockIdx.z);
    const char *separator = " ";
    for (int kind = 0; kind < kNumWaits; ++kind) {
      if (!count[kind] || used < 0 || used >= static_cast<int>(sizeof text))
        continue;
      char *rest = text + used;
      size_t room = sizeof text - static_cast<size_t>(used);
      const Fiber &f = *first[kind];
      if (static_cast<Wait>(kind) == Wait::Done)
        used += std::snprintf(rest, room, "%s%u %s", separator, count[kind],
                              kWhat[kind]);
      else
        used += std::snprintf(rest, room,
                              "%s%u %s (first thread (%u,%u,%u) at %s:%u)",
                              separator, count[kind], kWhat[kind],
                              f.threadIdx.x, f.threadIdx.y, f.threadIdx.z,
                              baseName(f.site.file), f.site.line);
      separator = "; ";
    }
    recordError("%s", text);
    return;
  }
  recordError("deadlock: no barrier can complete");
}

/// Runs the resident fibers in rounds: each round resumes every runnable
/// fiber once, in thread order, until it waits or returns; then the
/// barriers that everyone has reached are released. A round after which
/// nothing can be released while threads still wait is a deadlock.
inline bool runResident(Scheduler &s) {
  while (s.live > 0) {
    for (Fiber &f : s.fibers) {
      if (f.wait == Wait::Ready) {
        resume(s, f); // runs the whole round
        break;
      }
    }
    if (s.failed)
      return false;
    if (s.live == 0)
      break;
    bool released = releaseBarriers(s);
    if (s.failed)
      return false;
    if (!released) {
      reportDeadlock(s);
      return false;
    }
  }
  return !s.failed;
}

inline bool startFiber(Scheduler &s, Fiber &f) {
  if (getcontext(&f.context) != 0) {
    recordError("getcontext failed: %s", std::strerror(errno));
    return false;
  }
  asanForgetStack(f.stack);
  std::memset(f.stack, kCanary, kCanaryBytes);
  f.context.uc_stack.ss_sp = f.stack;
  f.context.uc_stack.ss_size = kStackBytes;
  f.context.uc_link = nullptr;
  makecontext(&f.context, fiberMain, 0);
  s.live++;
  return true;
}

/// Makes resident slot `slot` run block `blockIdx`: fresh fibers, warps and
/// arena.
inline bool startBlock(Scheduler &s, size_t slot, uint3 blockIdx) {
  unsigned n = s.threadsPerBlock;
  Block &b = s.blocks[slot];
  b.blockIdx = blockIdx;
  b.fibers = &s.fibers[slot * n];
  b.numFibers = n;
  b.live = n;
  b.atBarrier = 0;
  b.arena = s.arenas.slot(slot);
  // The dynamic part starts 16-byte aligned, as on the GPU, so kernels may
  // read it as float4.
  b.staticLimit = (kSharedBytes - s.dynamicBytes) & ~size_t(15);
  b.poisoned = 0;
  std::memset(b.arena + b.staticLimit, kSharedPoison, s.dynamicBytes);

  Warp *warps = &s.warps[slot * s.warpsPerBlock];
  for (unsigned w = 0; w < s.warpsPerBlock; ++w) {
    unsigned lanes = n - w * kWarpSize < kWarpSize ? n - w * kWarpSize
                                                   : kWarpSize;
    warps[w].liveMask = lanes == kWarpSize ? kFullMask : (1u << lanes) - 1;
    warps[w].waitMask = 0;
    std::memset(warps[w].lanes, 0, sizeof warps[w].lanes);
    std::memset(warps[w].slots, 0, sizeof warps[w].slots);
  }

  dim3 dim = s.blockDim;
  for (unsigned t = 0; t < n; ++t) {
    Fiber &f = b.fibers[t];
    f.threadIdx = {t % dim.x, t / dim.x % dim.y, t / (dim.x * dim.y)};
    f.blockIdx = blockIdx;
    f.block = &b;
    f.warp = &warps[t / kWarpSize];
    f.lane = t % kWarpSize;
    f.warpMask = 0;
    f.wait = Wait::Ready;
    f.site = {"", 0};
    f.sharedCursor = 0;
    f.stack = s.stacks.slot(slot * n + t);
    f.asanFakeStack = nullptr;
    f.warp->lanes[f.lane] = &f;
    if (!startFiber(s, f))
      return false;
  }
  return true;
}

inline uint3 blockAt(dim3 grid, unsigned long long linear) {
  return {static_cast<unsigned>(linear % grid.x),
          static_cast<unsigned>(linear / grid.x % grid.y),
          static_cast<unsigned>(linear / grid.x / grid.y)};
}

/// Checks the launch against CUDA's limits and the emulation's, and sizes
/// the resident state.
inline bool configure(Scheduler &s, dim3 grid, dim3 block,
                      size_t dynamicBytes, bool cooperative) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) {
    recordError("empty grid (%u,%u,%u)", grid.x, grid.y, grid.z);
    return false;
  }
  if (grid.x > kMaxGridDimX || grid.y > kMaxGridDimYZ ||
      grid.z > kMaxGridDimYZ) {
    recordError("grid (%u,%u,%u) exceeds CUDA's limits (2147483647, 65535, "
                "65535)",
                grid.x, grid.y, grid.z);
    return false;
  }
  if (block.x == 0 || block.y == 0 || block.z == 0) {
    recordError("empty block (%u,%u,%u)", block.x, block.y, block.z);
    return false;
  }
  unsigned long long threads =
      static_cast<unsigned long long>(block.x) * block.y * block.z;
  if (threads > kMaxBlockThreads || block.z > kMaxBlockDimZ) {
    recordError("block (%u,%u,%u) has %llu threads; CUDA allows at most 1024 "
                "per block and 64 in z",
                block.x, block.y, block.z, threads);
    return false;
  }
  if (dynamicBytes > kSharedBytes) {
    recordError("dynamic shared memory of %zu bytes exceeds the %zu-byte "
                "shared arena",
                dynamicBytes, kSharedBytes);
    return false;
  }
  unsigned long long numBlocks =
      static_cast<unsigned long long>(grid.x) * grid.y * grid.z;
  if (cooperative && numBlocks * threads > kMaxCooperativeThreads) {
    recordError("cooperative launch of %llu threads (grid (%u,%u,%u), block "
                "(%u,%u,%u)) exceeds the emulation limit of %llu threads",
                numBlocks * threads, grid.x, grid.y, grid.z, block.x, block.y,
                block.z, kMaxCooperativeThreads);
    return false;
  }

  s.gridDim = grid;
  s.blockDim = block;
  s.threadsPerBlock = static_cast<unsigned>(threads);
  s.warpsPerBlock = (s.threadsPerBlock + kWarpSize - 1) / kWarpSize;
  s.dynamicBytes = (dynamicBytes + kDynamicSharedAlign - 1) /
                   kDynamicSharedAlign * kDynamicSharedAlign;
  if (s.dynamicBytes > kSharedBytes)
    s.dynamicBytes = kSharedBytes; // kSharedBytes need not be 128-aligned
  s.cooperative = cooperative;

  size_t resident = cooperative ? static_cast<size_t>(numBlocks)
                                : static_cast<size_t>(std::min<unsigned long long>(
                                      numBlocks, kResidentBlocks));
  size_t residentThreads = resident * s.threadsPerBlock;
  if (!s.stacks.reserve(residentThreads, kStackBytes, /*guarded=*/true)) {
    recordError("cannot allocate %zu fiber stacks of %zu bytes: %s",
                residentThreads, kStackBytes, std::strerror(errno));
    return false;
  }
  if (!s.arenas.reserve(resident, kSharedBytes, /*guarded=*/false)) {
    recordError("cannot allocate %zu shared-memory arenas of %zu bytes: %s",
                resident, kSharedBytes, std::strerror(errno));
    return false;
  }
  s.fibers.resize(residentThreads);
  s.blocks.resize(resident);
  s.warps.resize(resident * s.warpsPerBlock);
  return true;
}

/// A normal launch runs its blocks in waves of kResidentBlocks, in linear
/// order (x fastest); a cooperative one runs the whole grid at once so that
/// its grid barrier can complete.
inline bool runGrid(Scheduler &s) {
  unsigned long long numBlocks =
      static_cast<unsigned long long>(s.gridDim.x) * s.gridDim.y * s.gridDim.z;
  if (s.cooperative) {
    for (unsigned long long i = 0; i < numBlocks; ++i)
      if (!startBlock(s, static_cast<size_t>(i), blockAt(s.gridDim, i)))
        return false;
    return runResident(s);
  }
  // A testing hook: ATTNC_EMU_FAULT_AT_BLOCK=N fails a launch of more
  // than N blocks as a fault in block N would, once the blocks before it
  // have run (test/Runtime/rerun.test: a run that fails part way must
  // not spoil the session's next run).
  const char *fault = std::getenv("ATTNC_EMU_FAULT_AT_BLOCK");
  const unsigned long long faultAt =
      fault ? std::strtoull(fault, nullptr, 10) : numBlocks;
  // Waves of kResidentBlocks blocks run together, so blocks that talk
  // through memory (tickets, tagged words) interleave as on a GPU.
  for (unsigned long long i = 0; i < numBlocks; i += kResidentBlocks) {
    for (unsigned long long j = i; j < numBlocks && j < i + kResidentBlocks; ++j) {
      if (j == faultAt) {
        if (!runResident(s))
          return false;
        recordError("a fault injected in block %llu (ATTNC_EMU_FAULT_AT_BLOCK)",
                    faultAt);
        return false;
      }
      if (!startBlock(s, static_cast<size_t>(j - i), blockAt(s.gridDim, j)))
        return false;
    }
    if (!runResident(s))
      return false;
  }
  return true;
}

/// Gives the memory of a large cooperative launch back to the system; what
/// one block needs is kept for the next launch.
inline void trim(Scheduler &s) {
  if (s.stacks.count() > kResidentBlocks * kMaxBlockThreads) {
    s.stacks.release();
    std::vector<Fiber>().swap(s.fibers);
  }
  if (s.arenas.count() > kKeptArenas) {
    s.arenas.release();
    std::vector<Block>().swap(s.blocks);
    std::vector<Warp>().swap(s.warps);
  }
}

inline int launch(void (*thunk)(void **), void **args, dim3 grid, dim3 block,
                  size_t dynamicBytes, bool cooperative, char *error,
                  size_t errorSize) {
  auto report = [&](const char *message) {
    if (error && errorSize)
      std::snprintf(error, errorSize, "%s", message);
  };
  Scheduler &s = gScheduler;
  if (s.busy.exchange(true)) {
    report("attnc_emu_launch called while another launch is running (the "
           "emulation is neither reentrant nor thread-safe)");
    return 1;
  }
  ++s.launches;
  s.failed = false;
  s.message[0] = '\0';
  s.live = 0;
  s.atGridBarrier = 0;
  s.stackBottom = nullptr; // the caller's stack may differ between launches
  s.stackSize = 0;
  s.thunk = thunk;
  s.args = args;
  gCurrent = nullptr;

  bool ok = false;
  if (!thunk) {
    recordError("no kernel thunk");
  } else {
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
    try {
      ok = configure(s, grid, block, dynamicBytes, cooperative) && runGrid(s);
    } catch (const std::bad_alloc &) {
      recordError("out of memory for the emulated threads");
    }
#else
    ok = configure(s, grid, block, dynamicBytes, cooperative) && runGrid(s);
#endif
  }
  gCurrent = nullptr;
  trim(s);
  ok = ok && !s.failed;
  if (ok)
    report("");
  else
    report(s.message[0] ? s.message : "launch failed");
  s.busy.store(false);
  return ok ? 0 : 1;
}

} // namespace attnc_emu

//===----------------------------------------------------------------------===//
// CUDA spellings
//===----------------------------------------------------------------------===//

// The built-in variables read the running fiber; they are const, as in CUDA.
#define threadIdx (static_cast<const uint3 &>(::attnc_emu::running().threadIdx))
#define blockIdx (static_cast<const uint3 &>(::attnc_emu::running().blockIdx))
#define blockDim (static_cast<const dim3 &>(::attnc_emu::gScheduler.blockDim))
#define gridDim (static_cast<const dim3 &>(::attnc_emu::gScheduler.gridDim))

/// Declares `type *name` pointing at `count` elements of the block's static
/// shared memory. Must run at kernel scope, by every thread, in the same
/// order (the GPU spelling declares a __shared__ array).
#define ATTNC_SHARED(type, name, count)                                        \
  type *name = static_cast<type *>(::attnc_emu::sharedAlloc(                   \
      sizeof(type), static_cast<unsigned long long>(count), alignof(type),     \
      #name))

/// Declares `type *name` pointing at the dynamic shared memory whose size
/// the launch gave (placed at the end of the block's arena).
#define ATTNC_DYNAMIC_SHARED(type, name)                                       \
  type *name = static_cast<type *>(::attnc_emu::dynamicShared())

inline void __syncthreads(ATTNC_EMU_CALL_SITE) {
  ::attnc_emu::blockBarrier(ATTNC_EMU_SITE);
}

inline void __syncwarp(unsigned mask = 0xffffffffu, ATTNC_EMU_CALL_SITE) {
  ::attnc_emu::warpBarrier(mask, ATTNC_EMU_SITE);
}

// One OS thread runs every fiber, and fibers switch only inside calls the
// compiler cannot see through, so memory is always coherent.
inline void __threadfence() {}
inline void __threadfence_block() {}
inline void __threadfence_system() {}

/// Grid-wide barrier of a cooperative launch.
inline void attnc_emu_grid_sync(ATTNC_EMU_CALL_SITE) {
  ::attnc_emu::gridBarrier(ATTNC_EMU_SITE);
}

template <class T>
inline T __shfl_sync(unsigned mask, T var, int srcLane, int width = warpSize,
                     ATTNC_EMU_CALL_SITE) {
  return ::attnc_emu::shuffle(mask, var, ::attnc_emu::Shuffle::Index,
                              static_cast<unsigned>(srcLane), width,
                              ATTNC_EMU_SITE);
}

template <class T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta,
                        int width = warpSize, ATTNC_EMU_CALL_SITE) {
  return ::attnc_emu::shuffle(mask, var, ::attnc_emu::Shuffle::Up, delta,
                              width, ATTNC_EMU_SITE);
}

template <class T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta,
                          int width = warpSize, ATTNC_EMU_CALL_SITE) {
  return ::attnc_emu::shuffle(mask, var, ::attnc_emu::Shuffle::Down, delta,
                              width, ATTNC_EMU_SITE);
}

template <class T>
inline T __shfl_xor_sync(unsigned mask, T var, int laneMask,
                         int width = warpSize, ATTNC_EMU_CALL_SITE) {
  return ::attnc_emu::shuffle(mask, var, ::attnc_emu::Shuffle::Xor,
                              static_cast<unsigned>(laneMask), width,
                              ATTNC_EMU_SITE);
}

inline unsigned __ballot_sync(unsigned mask, int predicate,
                              ATTNC_EMU_CALL_SITE) {
  return ::attnc_emu::vote(mask, predicate, ATTNC_EMU_SITE).ballot;
}

inline int __any_sync(unsigned mask, int predicate, ATTNC_EMU_CALL_SITE) {
  return ::attnc_emu::vote(mask, predicate, ATTNC_EMU_SITE).ballot != 0;
}

inline int __all_sync(unsigned mask, int predicate, ATTNC_EMU_CALL_SITE) {
  ::attnc_emu::Vote v = ::attnc_emu::vote(mask, predicate, ATTNC_EMU_SITE);
  return v.ballot == v.participants;
}

/// Lanes of the caller's warp that have not returned. Fibers have no notion
/// of divergence, so this is the widest mask CUDA could answer.
inline unsigned __activemask() { return ::attnc_emu::running().warp->liveMask; }

template <class T> inline T __ldg(const T *address) { return *address; }

//===----------------------------------------------------------------------===//
// Atomics: a plain read-modify-write cannot be interleaved by another fiber.
//===----------------------------------------------------------------------===//

#define ATTNC_EMU_ATOMIC(NAME, T, NEW)                                         \
  inline T NAME(T *address, T val) {                                           \
    T old = *address;                                                          \
    *address = (NEW);                                                          \
    return old;                                                                \
  }
// Integer addition wraps, as on the GPU.
#define ATTNC_EMU_WRAP(T, EXPR) static_cast<T>(EXPR)
ATTNC_EMU_ATOMIC(atomicAdd, int,
                 ATTNC_EMU_WRAP(int, static_cast<unsigned>(old) +
                                         static_cast<unsigned>(val)))
ATTNC_EMU_ATOMIC(atomicAdd, unsigned, old + val)
ATTNC_EMU_ATOMIC(atomicAdd, unsigned long long, old + val)
ATTNC_EMU_ATOMIC(atomicAdd, float, old + val)
ATTNC_EMU_ATOMIC(atomicAdd, double, old + val)
ATTNC_EMU_ATOMIC(atomicSub, int,
                 ATTNC_EMU_WRAP(int, static_cast<unsigned>(old) -
                                         static_cast<unsigned>(val)))
ATTNC_EMU_ATOMIC(atomicSub, unsigned, old - val)
ATTNC_EMU_ATOMIC(atomicExch, int, val)
ATTNC_EMU_ATOMIC(atomicExch, unsigned, val)
ATTNC_EMU_ATOMIC(atomicExch, unsigned long long, val)
ATTNC_EMU_ATOMIC(atomicExch, float, val)
ATTNC_EMU_ATOMIC(atomicMax, int, old < val ? val : old)
ATTNC_EMU_ATOMIC(atomicMax, unsigned, old < val ? val : old)
ATTNC_EMU_ATOMIC(atomicMax, long long, old < val ? val : old)
ATTNC_EMU_ATOMIC(atomicMax, unsigned long long, old < val ? val : old)
ATTNC_EMU_ATOMIC(atomicMin, int, val < old ? val : old)
ATTNC_EMU_ATOMIC(atomicMin, unsigned, val < old ? val : old)
ATTNC_EMU_ATOMIC(atomicMin, long long, val < old ? val : old)
ATTNC_EMU_ATOMIC(atomicMin, unsigned long long, val < old ? val : old)
ATTNC_EMU_ATOMIC(atomicAnd, int, old & val)
ATTNC_EMU_ATOMIC(atomicAnd, unsigned, old & val)
ATTNC_EMU_ATOMIC(atomicAnd, unsigned long long, old & val)
ATTNC_EMU_ATOMIC(atomicOr, int, old | val)
ATTNC_EMU_ATOMIC(atomicOr, unsigned, old | val)
ATTNC_EMU_ATOMIC(atomicOr, unsigned long long, old | val)
ATTNC_EMU_ATOMIC(atomicXor, int, old ^ val)
ATTNC_EMU_ATOMIC(atomicXor, unsigned, old ^ val)
ATTNC_EMU_ATOMIC(atomicXor, unsigned long long, old ^ val)
ATTNC_EMU_ATOMIC(atomicInc, unsigned, old >= val ? 0u : old + 1)
ATTNC_EMU_ATOMIC(atomicDec, unsigned, old == 0 || old > val ? val : old - 1)
#undef ATTNC_EMU_WRAP
#undef ATTNC_EMU_ATOMIC

#define ATTNC_EMU_ATOMIC_CAS(T)                                                \
  inline T atomicCAS(T *address, T compare, T val) {                           \
    T old = *address;                                                          \
    if (old == compare)                                                        \
      *address = val;                                                          \
    return old;                                                                \
  }
ATTNC_EMU_ATOMIC_CAS(int)
ATTNC_EMU_ATOMIC_CAS(unsigned)
ATTNC_EMU_ATOMIC_CAS(unsigned long long)
#undef ATTNC_EMU_ATOMIC_CAS

//===----------------------------------------------------------------------===//
// Math: <cmath> has the standard float functions (expf, tanhf, fmaf, ...);
// these are the CUDA-only ones. The fast intrinsics (__expf, ...) are exact
// here; results may differ from the GPU in the last bits.
//===----------------------------------------------------------------------===//

inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return powf(10.0f, x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
/// Clamps to [0, 1]; NaN gives 0.
inline float __saturatef(float x) {
  return x >= 1.0f ? 1.0f : (x > 0.0f ? x : 0.0f);
}

inline int __float_as_int(float x) {
  int i;
  std::memcpy(&i, &x, sizeof i);
  return i;
}
inline float __int_as_float(int i) {
  float x;
  std::memcpy(&x, &i, sizeof x);
  return x;
}
inline unsigned __float_as_uint(float x) {
  unsigned u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}
inline float __uint_as_float(unsigned u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}
inline long long __double_as_longlong(double x) {
  long long i;
  std::memcpy(&i, &x, sizeof i);
  return i;
}
inline double __longlong_as_double(long long i) {
  double x;
  std::memcpy(&x, &i, sizeof x);
  return x;
}

/// Round to nearest even; out of range saturates and NaN gives 0, as the
/// GPU's cvt.rni.s32.f32 does.
inline int __float2int_rn(float x) {
  if (std::isnan(x))
    return 0;
  if (x >= 2147483648.0f)
    return INT_MAX;
  if (x <= -2147483648.0f)
    return INT_MIN;
  return static_cast<int>(std::nearbyint(x));
}
/// Round toward zero, saturating like __float2int_rn.
inline int __float2int_rz(float x) {
  if (std::isnan(x))
    return 0;
  if (x >= 2147483648.0f)
    return INT_MAX;
  if (x <= -2147483648.0f)
    return INT_MIN;
  return static_cast<int>(x);
}
inline float __int2float_rn(int i) { return static_cast<float>(i); }

// min/max as CUDA overloads them: same-type pairs for every integer width
// (long and long long are distinct types, int64_t is one of them), the
// signed/unsigned mixes CUDA converts to unsigned, and fminf/fmaxf for floats
// (NaN-ignoring).
#define ATTNC_EMU_MIN_MAX(R, A, B)                                             \
  inline R min(A a, B b) {                                                     \
    return static_cast<R>(b) < static_cast<R>(a) ? static_cast<R>(b)           \
                                                 : static_cast<R>(a);          \
  }                                                                            \
  inline R max(A a, B b) {                                                     \
    return static_cast<R>(a) < static_cast<R>(b) ? static_cast<R>(b)           \
                                                 : static_cast<R>(a);          \
  }
ATTNC_EMU_MIN_MAX(int, int, int)
ATTNC_EMU_MIN_MAX(unsigned, unsigned, unsigned)
ATTNC_EMU_MIN_MAX(unsigned, int, unsigned)
ATTNC_EMU_MIN_MAX(unsigned, unsigned, int)
ATTNC_EMU_MIN_MAX(long, long, long)
ATTNC_EMU_MIN_MAX(unsigned long, unsigned long, unsigned long)
ATTNC_EMU_MIN_MAX(long long, long long, long long)
ATTNC_EMU_MIN_MAX(unsigned long long, unsigned long long, unsigned long long)
ATTNC_EMU_MIN_MAX(unsigned long long, long long, unsigned long long)
ATTNC_EMU_MIN_MAX(unsigned long long, unsigned long long, long long)
#undef ATTNC_EMU_MIN_MAX
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
inline double min(float a, double b) { return fmin(a, b); }
inline double max(float a, double b) { return fmax(a, b); }
inline double min(double a, float b) { return fmin(a, b); }
inline double max(double a, float b) { return fmax(a, b); }

//===----------------------------------------------------------------------===//
// Hooks for the warp-level matrix instructions (runtime/device/attnc/mma.h)
//===----------------------------------------------------------------------===//

/// Starts a whole-warp exchange: every lane of the caller's warp passes
/// `bytes` bytes (at most 64) at `mine`; once all 32 lanes have reached the
/// same call (`file`:`line`), each receives all 32 payloads, in lane order,
/// at `all` (32 * `bytes` bytes). Every lane must then call
/// attnc_emu_warp_exchange_end with the same site; memory reads that belong
/// to the instruction go in between, so that no lane runs code after the
/// instruction while another lane still performs its reads. A partial warp
/// (returned lanes, a block size that is not a multiple of 32) or lanes at
/// different calls fail the launch; `what` names the instruction there.
inline void attnc_emu_warp_exchange(const void *mine, size_t bytes, void *all,
                                    const char *what, const char *file,
                                    int line) {
  ::attnc_emu::warpExchange(mine, bytes, all, what,
                            ::attnc_emu::Site{file,
                                              static_cast<unsigned>(line)});
}

/// Ends the exchange begun at the same site: waits for the whole warp, so
/// that the exchange area may be reused.
inline void attnc_emu_warp_exchange_end(const char *file, int line) {
  ::attnc_emu::warpBarrier(
      ::attnc_emu::kFullMask,
      ::attnc_emu::Site{file, static_cast<unsigned>(line)});
}

/// Suspends the caller until `ready(arg)` holds, letting the other threads
/// run meanwhile (mbarrier waits, flags between blocks). The condition is
/// checked between scheduling rounds, never at the call: a waiting thread
/// always lets the others run first, as it may on a GPU, and `ready` may
/// record in `arg` what it saw when it held. If no thread can make
/// progress the launch fails as a deadlock naming `file`:`line`.
inline void attnc_emu_wait_until(bool (*ready)(void *), void *arg,
                                 const char *file, int line) {
  ::attnc_emu::Fiber &f = ::attnc_emu::running();
  f.pollReady = ready;
  f.pollArg = arg;
  ::attnc_emu::suspend(f, ::attnc_emu::Wait::Poll,
                       ::attnc_emu::Site{file, static_cast<unsigned>(line)});
}

/// Offset of `address` from the start of the calling block's shared memory:
/// what __cvta_generic_to_shared gives on the GPU (there, the start of the
/// shared window). Fails the launch for an address outside it.
inline unsigned attnc_emu_shared_offset(const void *address) {
  const char *arena = ::attnc_emu::running().block->arena;
  uintptr_t begin = reinterpret_cast<uintptr_t>(arena);
  uintptr_t at = reinterpret_cast<uintptr_t>(address);
  if (at < begin || at - begin >= ::attnc_emu::kSharedBytes)
    ::attnc_emu::failInFiber("a shared-memory address was taken of memory "
                             "outside the block's shared memory, in %s",
                             ::attnc_emu::where(::attnc_emu::running()).text);
  return static_cast<unsigned>(at - begin);
}

/// The calling block's shared memory at `offset` (see
/// attnc_emu_shared_offset).
inline unsigned char *attnc_emu_shared_at(unsigned offset) {
  return reinterpret_cast<unsigned char *>(::attnc_emu::running().block->arena) +
         offset;
}

namespace attnc_emu {
/// State kept outside the fibers under `key`, one map per State and Kind,
/// started afresh by every launch, so that nothing a failed launch left
/// behind is ever used.
template <class State, int Kind> inline State &launchState(long long key) {
  struct Slot {
    unsigned long long launch = 0;
    State state;
  };
  static std::map<long long, Slot> all;
  Slot &slot = all[key];
  if (slot.launch != gScheduler.launches)
    slot = Slot{gScheduler.launches, State()};
  return slot.state;
}
inline long long linearBlock() {
  return blockIdx.x +
         (long long)gridDim.x * (blockIdx.y + (long long)gridDim.y * blockIdx.z);
}
} // namespace attnc_emu

/// Per-thread state an instruction family keeps outside the fibers (the
/// pending copies of cp.async, the pending wgmma of a warpgroup): one per
/// emulated thread (block and thread index), fresh for every launch.
template <class State> inline State &attnc_emu_thread_state() {
  long long thread = threadIdx.x + (long long)blockDim.x *
                                       (threadIdx.y + (long long)blockDim.y * threadIdx.z);
  return ::attnc_emu::launchState<State, 0>(
      ::attnc_emu::linearBlock() * (long long)::attnc_emu::kMaxBlockThreads +
      thread);
}

/// Per-block state (the named barriers of a block): one per emulated
/// block, fresh for every launch.
template <class State> inline State &attnc_emu_block_state() {
  return ::attnc_emu::launchState<State, 1>(::attnc_emu::linearBlock());
}

namespace attnc_emu {
/// What a tagged word held before its latest store in this launch
/// (attnc_emu_tagged_store, attnc_emu_tagged_load).
struct TaggedHistory {
  bool stored = false;
  unsigned long long before = 0;
  unsigned long long arrivals = 0; // gScheduler.gridArrivals at the store
};
inline TaggedHistory &taggedHistory(const unsigned long long *word) {
  return launchState<TaggedHistory, 3>(
      static_cast<long long>(reinterpret_cast<uintptr_t>(word)));
}

/// ATTNC_EMU_STALE_FLAGS: 0 (unset), 1 or 2.
inline int staleMode() {
  static const int mode = [] {
    const char *value = std::getenv("ATTNC_EMU_STALE_FLAGS");
    return value ? std::atoi(value) : 0;
  }();
  return mode;
}
} // namespace attnc_emu

/// Tagged words between blocks (attnc_store_tagged, attnc_load_tagged_16:
/// a recurrence's state exchanged without a barrier; attnc_load_tagged,
/// attnc_load_tagged_pair: a scan's maps and final states). A GPU's load
/// may return a word's value from before its latest store; under
/// ATTNC_EMU_STALE_FLAGS (any nonzero value) a load returns that older value
/// whenever the word was stored in this launch since the last grid
/// barrier (which orders what came before it), so that a reader that
/// takes a stale word whose tag still matches (one an earlier run left)
/// computes the wrong result; the wait then reads the word as it is.
inline void attnc_emu_tagged_store(unsigned long long *word,
                                   unsigned long long value) {
  ::attnc_emu::TaggedHistory &history = ::attnc_emu::taggedHistory(word);
  history.stored = true;
  history.arrivals = ::attnc_emu::gScheduler.gridArrivals;
  history.before = *static_cast<volatile unsigned long long *>(word);
  *static_cast<volatile unsigned long long *>(word) = value;
}
inline unsigned long long
attnc_emu_tagged_load(const unsigned long long *word) {
  if (::attnc_emu::staleMode() != 0) {
    const ::attnc_emu::TaggedHistory &history =
        ::attnc_emu::taggedHistory(word);
    if (history.stored &&
        history.arrivals == ::attnc_emu::gScheduler.gridArrivals)
      return history.before;
  }
  return *static_cast<const volatile unsigned long long *>(word);
}

/// A scan's map, two tagged words, as a walk's load sees it: each from
/// before its store in this launch (attnc_emu_tagged_load), except under
/// ATTNC_EMU_STALE_FLAGS=1, where the first is as stored and the second
/// from before: a GPU may show one word of the pair before the other, and
/// a map is to be used only once both carry the run's tag.
inline void attnc_emu_tagged_pair_load(unsigned long long w[2],
                                       const unsigned long long *words) {
  w[0] = ::attnc_emu::staleMode() == 1
             ? *static_cast<const volatile unsigned long long *>(words)
             : attnc_emu_tagged_load(words);
  w[1] = attnc_emu_tagged_load(words + 1);
}

/// A scan's chunk as a look-back wait sees it (attnc_wait_chunk): its
/// final-state word and its two map words. A GPU's walk may see a chunk's
/// map long before its final state, its final state before its map, and
/// one map word before the other; here, where a wave's blocks run in
/// ticket order, it would mostly see all three at once. Under
/// ATTNC_EMU_STALE_FLAGS (any nonzero value) attnc_emu_tagged_load
/// returns what each word held before this launch stored it, so every
/// chunk a walk looks at is waited for; then, in the wait:
///  - 1 hides the final state of every chunk that published a map (all
///    but the first), so every walk composes each chunk back to the first
///    over as many rounds as that takes (and the walk's first load of a
///    map returns its first word as stored, the second from before:
///    attnc_emu_tagged_pair_load);
///  - 2 hides every map, so each wait ends on the final state alone.
/// The tests run the scans all three ways.
inline void attnc_emu_chunk_view(unsigned long long *final,
                                 unsigned long long map[2],
                                 const unsigned long long *finalWord,
                                 const unsigned long long *mapWords) {
  using namespace ::attnc_emu;
  *final = *static_cast<const volatile unsigned long long *>(finalWord);
  map[0] = *static_cast<const volatile unsigned long long *>(mapWords);
  map[1] = *static_cast<const volatile unsigned long long *>(mapWords + 1);
  if (staleMode() == 0)
    return;
  const TaggedHistory &first = taggedHistory(mapWords);
  const TaggedHistory &second = taggedHistory(mapWords + 1);
  if (staleMode() == 1 && first.stored) {
    *final = taggedHistory(finalWord).before;
  } else if (staleMode() == 2 && first.stored) {
    map[0] = first.before;
    map[1] = second.before;
  }
}

/// The caller's lane in its warp (linear thread index modulo 32).
inline unsigned attnc_emu_lane() { return ::attnc_emu::running().lane; }

/// True if [address, address + bytes) lies in the calling block's shared
/// memory (the arena that ATTNC_SHARED and ATTNC_DYNAMIC_SHARED carve up).
inline bool attnc_emu_in_shared(const void *address, size_t bytes) {
  const char *arena = ::attnc_emu::running().block->arena;
  uintptr_t begin = reinterpret_cast<uintptr_t>(arena);
  uintptr_t at = reinterpret_cast<uintptr_t>(address);
  return at >= begin && bytes <= ::attnc_emu::kSharedBytes &&
         at - begin <= ::attnc_emu::kSharedBytes - bytes;
}

/// Fails the launch from inside a kernel, as a trapping instruction would,
/// with "`what` at file:line: message, in thread ... of block ...", the
/// message printf-style.
[[noreturn]] __attribute__((format(printf, 4, 5))) inline void
attnc_emu_fail(const char *what, const char *file, int line,
               const char *format, ...) {
  char text[320];
  va_list ap;
  va_start(ap, format);
  std::vsnprintf(text, sizeof text, format, ap);
  va_end(ap);
  ::attnc_emu::failInFiber(
      "%s at %s:%d: %s, in %s", what, ::attnc_emu::baseName(file), line, text,
      ::attnc_emu::where(::attnc_emu::running()).text);
}

#undef ATTNC_EMU_SITE
#undef ATTNC_EMU_CALL_SITE

#pragma GCC visibility pop

//===----------------------------------------------------------------------===//
// Launch entry point
//===----------------------------------------------------------------------===//

/// Runs `thunk(args)` as every thread of the grid. Called by the runtime
/// through dlsym on the compiled kernel library, hence C linkage, default
/// visibility and `used` (it is inline so that the header can be included by
/// several translation units). Returns 0, or non-zero with a one-line
/// message in `error` (deadlock, shared-memory overflow, bad launch shape,
/// allocation failure).
extern "C" __attribute__((used, visibility("default"))) inline int
attnc_emu_launch(void (*thunk)(void **), void **args, unsigned gridX,
                 unsigned gridY, unsigned gridZ, unsigned blockX,
                 unsigned blockY, unsigned blockZ, size_t dynamicSharedBytes,
                 int cooperative, char *error, size_t errorSize) {
  return ::attnc_emu::launch(thunk, args, dim3(gridX, gridY, gridZ),
                             dim3(blockX, blockY, blockZ), dynamicSharedBytes,
                             cooperative != 0, error, errorSize);
}

#endif // ATTNC_EMU_EMU_H
