package nixos_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/nixos"
	"github.com/deskvm/deskvm/internal/testutil"
)

// BenchmarkGenerateOptions: schema + default probes + nix/options.nix.
func BenchmarkGenerateOptions(b *testing.B) {
	for i := 0; i < b.N; i++ {
		opts, err := config.Options()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := nixos.GenerateOptions(opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkModuleEval evaluates the seed's full example through
// nix/tests/eval.nix (configJSON), against a baseline in the same run:
// nix-instantiate evaluating nixpkgs' lib.evalModules with no module, the
// cost of starting Nix and loading lib. The ratio is reported.
func BenchmarkModuleEval(b *testing.B) {
	testutil.RequiresNix(b)
	lib := testutil.NixpkgsLib(b)
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	run := func(args ...string) {
		if out, err := testutil.NixCommand(b, "nix-instantiate", args...).CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
	module := func() {
		run("--eval", "--strict", "--json", filepath.Join(root, "nix", "tests", "eval.nix"),
			"--arg", "lib", "import "+lib, "--arg", "configuration", filepath.Join(root, "examples", "seed-full.nix"), "-A", "configJSON")
	}
	baseline := func() {
		run("--eval", "--strict", "--json", "--expr", "(import "+lib+").evalModules { modules = [ ]; }", "-A", "config")
	}
	var tMod, tBase time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		baseline()
		tBase += time.Since(start)
		start = time.Now()
		module()
		tMod += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(float64(tMod.Milliseconds())/n, "ms/module-eval")
	b.ReportMetric(float64(tBase.Milliseconds())/n, "ms/baseline")
	b.ReportMetric(float64(tMod)/float64(tBase), "x-baseline")
}
