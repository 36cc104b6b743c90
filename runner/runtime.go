package runner

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// EnvLibrary is the environment variable naming the ONNX Runtime shared
// library when Config.LibraryPath is empty.
const EnvLibrary = "NAS_ORT_LIB"

// Devices accepted by Config.Device.
const (
	DeviceCPU  = "cpu"
	DeviceCUDA = "cuda"
	DeviceAuto = "auto"
)

// Config configures a Runtime.
type Config struct {
	// LibraryPath is the ONNX Runtime shared library (libonnxruntime.so).
	// Zero: $NAS_ORT_LIB, else <dir of executable>/../.ort/libonnxruntime.so.1,
	// else ./.ort/libonnxruntime.so.1.
	LibraryPath string
	// Device is "cpu", "cuda" or "auto" (CUDA when the library provides it,
	// else CPU with a logged warning). Zero: "cpu".
	Device string
	// Threads is the number of intra-op threads of every session.
	// Zero: runtime.NumCPU().
	Threads int
	// Logger receives warnings (the CUDA fallback) and debug messages.
	// Zero: messages are discarded.
	Logger *slog.Logger
	// ProfilePrefix turns on ONNX Runtime's profiler for every session: each
	// session writes a Chrome-trace JSON file named <ProfilePrefix>_<time>.json
	// (one event per node run, with its op type and duration) when it is
	// closed. For finding where a step spends its time; it slows runs down.
	// Zero: no profiling.
	ProfilePrefix string
	// SharedArena makes every session allocate its CPU memory from one
	// arena registered with the process-wide ORT environment (created by
	// the first New that sets it), instead of an arena per session that is
	// freed when the session closes. A new session then reuses memory an
	// earlier one already touched, and its first steps run near the steady
	// speed (measured, BenchmarkFirstSteps: the first step of a fresh
	// session 1.45–1.47× the 8th's time, 1.05–1.18× with SharedArena). The
	// price: the arena never shrinks, so the process keeps the most memory
	// its concurrent sessions ever used. A whole child of a search ran 2%
	// faster with it (BenchmarkChildSharedArena; the nas command sets it).
	// Zero: an arena per session.
	SharedArena bool
	// StepsPerRun is the number of training steps one session run makes,
	// through the child's K-step graph (child.Net.Steps: an ONNX Loop with
	// the parameters and buffers as its loop-carried state), at most an
	// epoch's batches; an epoch whose batches are not a multiple of it ends
	// with one run of the remainder. On CUDA the state then stays on the
	// device for the whole run instead of travelling with every step. A
	// child without a K-step graph (a language model) trains one step per
	// run. The trained bits are those of single steps (TestStepsPerRun).
	// Zero: 1 on the CPU (the form costs nothing there, and gains nothing:
	// BenchmarkStepsPerRun), DefaultCUDASteps on CUDA.
	StepsPerRun int
}

// DefaultCUDASteps is Config.StepsPerRun's default on CUDA: the state and
// the weights cross between host and device once every 16 steps.
const DefaultCUDASteps = 16

// Validate reports the first invalid field of c.
func (c Config) Validate() error {
	switch c.Device {
	case "", DeviceCPU, DeviceCUDA, DeviceAuto:
	default:
		return fmt.Errorf("runner: config: device %q: want cpu, cuda or auto", c.Device)
	}
	if c.Threads < 0 {
		return fmt.Errorf("runner: config: threads %d: want >= 0", c.Threads)
	}
	if c.StepsPerRun < 0 {
		return fmt.Errorf("runner: config: steps per run %d: want >= 0", c.StepsPerRun)
	}
	return nil
}

// Runtime runs ONNX models with ONNX Runtime on one device. It is safe for
// concurrent use: every call creates its own sessions and tensors.
type Runtime struct {
	lib     string
	device  string // resolved: "cpu" or "cuda"
	threads int
	log     *slog.Logger
	profile string // Config.ProfilePrefix
	shared  bool   // Config.SharedArena
	steps   int    // Config.StepsPerRun, resolved
	loop    bool   // tests only (WithStepsForTest): the K-step graph even for 1 step
	// tweak, when set (tests only: WithSessionOptionsForTest), changes the
	// session options after the defaults, to measure them one by one.
	tweak func(*ort.SessionOptions) error
}

// The ORT environment is process-wide: it is initialised once, by the first
// New that succeeds, and never destroyed (sessions of any Runtime use it).
// A failed initialisation is not remembered, so a later New with a corrected
// library path can still succeed.
var ortState struct {
	mu     sync.Mutex
	lib    string // the library loaded; "" before the first success
	shared bool   // the environment has the shared CPU arena (Config.SharedArena)
}

// registerSharedArena registers the environment's CPU arena once per
// process (ORT's default arena settings).
func registerSharedArena() error {
	ortState.mu.Lock()
	defer ortState.mu.Unlock()
	if ortState.shared {
		return nil
	}
	mi, err := ort.GetMemoryInfo()
	if err != nil {
		return err
	}
	cfg, err := ort.NewArenaCfg(0, -1, -1, -1)
	if err != nil {
		return err
	}
	defer cfg.Destroy()
	if err := ort.CreateAndRegisterAllocator(mi, cfg); err != nil {
		return err
	}
	ortState.shared = true
	return nil
}

// New loads the ONNX Runtime library (once per process) and resolves the
// device. A second New naming another library than the one loaded is an
// error: a process holds one ORT library.
func New(cfg Config) (*Runtime, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lib, err := libraryPath(cfg.LibraryPath)
	if err != nil {
		return nil, err
	}
	if err := initORT(lib); err != nil {
		return nil, err
	}
	rt := &Runtime{lib: lib, device: DeviceCPU, threads: cfg.Threads, log: cfg.Logger, profile: cfg.ProfilePrefix, shared: cfg.SharedArena}
	if rt.shared {
		if err := registerSharedArena(); err != nil {
			return nil, fmt.Errorf("runner: shared arena: %w", err)
		}
	}
	if rt.threads == 0 {
		rt.threads = runtime.NumCPU()
	}
	if rt.log == nil {
		rt.log = slog.New(slog.DiscardHandler)
	}
	switch cfg.Device {
	case DeviceCUDA:
		if err := probeCUDA(); err != nil {
			return nil, fmt.Errorf("runner: device cuda: the CUDA execution provider does not load from %s "+
				"(a CPU-only build? point %s at an ORT GPU build): %w", lib, EnvLibrary, err)
		}
		rt.device = DeviceCUDA
	case DeviceAuto:
		if err := probeCUDA(); err != nil {
			rt.log.Warn("runner: CUDA unavailable, running on the CPU", "library", lib, "err", err)
		} else {
			rt.device = DeviceCUDA
		}
	}
	rt.steps = cfg.StepsPerRun
	if rt.steps == 0 {
		rt.steps = 1
		if rt.device == DeviceCUDA {
			rt.steps = DefaultCUDASteps
		}
	}
	rt.log.Debug("runner: ready", "library", lib, "ort", ort.GetVersion(), "device", rt.device, "threads", rt.threads, "steps per run", rt.steps)
	return rt, nil
}

// Device is the device sessions run on: "cpu" or "cuda" ("auto" resolved).
func (rt *Runtime) Device() string { return rt.device }

// Threads is the intra-op threads of rt's sessions (Config.Threads; 0:
// ONNX Runtime's default, a thread per core).
func (rt *Runtime) Threads() int { return rt.threads }

// WithThreads returns a copy of rt whose sessions use n intra-op threads
// (n >= 0; 0: ONNX Runtime's default), on the same library and
// environment.
func (rt *Runtime) WithThreads(n int) *Runtime {
	c := *rt
	c.threads = max(0, n)
	return &c
}

// Library is the path of the loaded ONNX Runtime library.
func (rt *Runtime) Library() string { return rt.lib }

// libraryPath picks the library from the config, the environment or the
// default places, and checks that the file exists.
func libraryPath(configured string) (string, error) {
	var tried []string
	pick := func(p string) (string, bool) {
		if p == "" {
			return "", false
		}
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		tried = append(tried, p)
		st, err := os.Stat(p)
		return p, err == nil && !st.IsDir()
	}
	if configured != "" {
		if p, ok := pick(configured); ok {
			return p, nil
		}
		return "", missingLibrary(tried)
	}
	if env := os.Getenv(EnvLibrary); env != "" {
		if p, ok := pick(env); ok {
			return p, nil
		}
		return "", missingLibrary(tried)
	}
	if exe, err := os.Executable(); err == nil {
		if p, ok := pick(filepath.Join(filepath.Dir(exe), "..", ".ort", "libonnxruntime.so.1")); ok {
			return p, nil
		}
	}
	if p, ok := pick(filepath.Join(".ort", "libonnxruntime.so.1")); ok {
		return p, nil
	}
	return "", missingLibrary(tried)
}

// ErrLibrary is wrapped by every error about a missing or unusable ONNX
// Runtime library.
var ErrLibrary = errors.New("onnx runtime library unusable: run make ort or set " + EnvLibrary)

func missingLibrary(tried []string) error {
	return fmt.Errorf("runner: no onnx runtime library at %q: %w", tried, ErrLibrary)
}

func initORT(lib string) error {
	ortState.mu.Lock()
	defer ortState.mu.Unlock()
	if ortState.lib != "" {
		if ortState.lib != lib {
			return fmt.Errorf("runner: onnx runtime already loaded from %s; a process holds one library, not also %s",
				ortState.lib, lib)
		}
		return nil
	}
	// dlopen of a damaged library crashes the process (SIGBUS on a
	// truncated one): check the file first.
	if err := checkLibrary(lib); err != nil {
		return err
	}
	ort.SetSharedLibraryPath(lib)
	// Fatal only: ORT's own log lines (raw, ANSI-coloured, on stderr) would
	// precede nas's message for what nas reports itself as an error, e.g. a
	// CUDA provider that does not load.
	if err := ort.InitializeEnvironment(ort.WithLogLevelFatal()); err != nil {
		return fmt.Errorf("runner: loading %s: %v: %w", lib, err, ErrLibrary)
	}
	ortState.lib = lib
	return nil
}

// probeCUDA checks that the library can append the CUDA execution provider.
func probeCUDA() error {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return err
	}
	defer opts.Destroy()
	return appendCUDA(opts)
}

func appendCUDA(opts *ort.SessionOptions) error {
	cuda, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return err
	}
	defer cuda.Destroy()
	return opts.AppendExecutionProviderCUDA(cuda)
}

// sessionOptions builds the options every session of rt uses: all graph
// optimisations, rt.threads intra-op threads, the CUDA provider on "cuda",
// the profiler when rt.profile is set.
func (rt *Runtime) sessionOptions() (*ort.SessionOptions, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	err = errors.Join(
		opts.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll),
		opts.SetIntraOpNumThreads(rt.threads),
		opts.SetInterOpNumThreads(1),
	)
	if err == nil && rt.profile != "" {
		err = opts.EnableProfiling(rt.profile)
	}
	if err == nil && rt.shared {
		err = opts.AddSessionConfigEntry("session.use_env_allocators", "1")
	}
	if err == nil && rt.tweak != nil {
		err = rt.tweak(opts)
	}
	if err == nil && rt.device == DeviceCUDA {
		err = appendCUDA(opts)
	}
	if err != nil {
		opts.Destroy()
		return nil, err
	}
	return opts, nil
}

// newSession creates a session over model with the given input and output
// names.
func (rt *Runtime) newSession(model []byte, inputs, outputs []string) (*ort.DynamicAdvancedSession, error) {
	opts, err := rt.sessionOptions()
	if err != nil {
		return nil, fmt.Errorf("session options: %w", err)
	}
	defer opts.Destroy()
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, inputs, outputs, opts)
	if err != nil {
		return nil, fmt.Errorf("creating session: %w", err)
	}
	return s, nil
}
