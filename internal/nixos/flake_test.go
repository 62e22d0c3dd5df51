package nixos_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/deskvm/deskvm/internal/image"
	"github.com/deskvm/deskvm/internal/testutil"
)

// TestFlakeVendorHash recomputes buildGoModule's vendorHash (the NAR hash
// of `go mod vendor`'s directory, as SRI) and compares it with flake.nix.
func TestFlakeVendorHash(t *testing.T) {
	testutil.RequiresNix(t)
	nix := testutil.RequiresCommand(t, "nix")
	goBin := testutil.RequiresCommand(t, "go")
	root := repoRoot(t)
	vendor := filepath.Join(t.TempDir(), "vendor")
	cmd := exec.Command(goBin, "mod", "vendor", "-o", vendor)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go mod vendor: %v\n%s", err, out)
	}
	out, err := testutil.NixCommand(t, nix, "hash", "path", vendor).Output()
	if err != nil {
		t.Fatalf("nix hash path: %v", err)
	}
	got := strings.TrimSpace(string(out))
	flake, err := os.ReadFile(filepath.Join(root, "flake.nix"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`vendorHash = "([^"]*)";`).FindSubmatch(flake)
	if m == nil {
		t.Fatal("flake.nix has no vendorHash")
	}
	if string(m[1]) != got {
		t.Fatalf("flake.nix vendorHash is %s, go mod vendor gives %s: put that into flake.nix", m[1], got)
	}
}

// copyTree copies the files under src (relative names) into dst.
func copyTree(t *testing.T, src, dst string, names ...string) {
	t.Helper()
	for _, name := range names {
		from := filepath.Join(src, name)
		err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			target := filepath.Join(dst, rel)
			if d.IsDir() {
				return os.MkdirAll(target, 0o755)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestFlakeOutputs evaluates the flake's outputs that need only nixpkgs'
// lib, with nixpkgs replaced by a local flake that has just lib (there is
// no network here): nixosModules.default and the image functions under
// lib. packages, checks and devShells need all of nixpkgs and are not
// evaluated here.
func TestFlakeOutputs(t *testing.T) {
	testutil.RequiresNix(t)
	nix := testutil.RequiresCommand(t, "nix")
	lib := testutil.NixpkgsLib(t)
	root := repoRoot(t)

	fake := t.TempDir()
	copyTree(t, filepath.Dir(lib), fake, "lib")
	if err := os.WriteFile(filepath.Join(fake, "flake.nix"), []byte("{ outputs = { self }: { lib = import ./lib; }; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	copyTree(t, root, src, "flake.nix", "nix", "examples")

	eval := func(attr, apply string) []byte {
		t.Helper()
		args := []string{"eval", "--json", "path:" + src + "#" + attr, "--override-input", "nixpkgs", "path:" + fake}
		if apply != "" {
			args = append(args, "--apply", apply)
		}
		cmd := testutil.NixCommand(t, nix, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("nix %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return stdout.Bytes()
	}
	if got := strings.TrimSpace(string(eval("nixosModules.default", "builtins.isFunction"))); got != "true" {
		t.Errorf("nixosModules.default is not a module function: %s", got)
	}
	var recipe map[string]any
	out := eval("lib.mkLinuxImage", `f: (f { name = "ci"; cloudImage = { url = "https://example.org/debian.qcow2"; sha256 = "0000"; }; hostname = "ci"; installNix = true; sshPort = 2222; }).recipe`)
	if err := json.Unmarshal(out, &recipe); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"name": "ci", "kind": "linux", "hostname": "ci", "installNix": true, "sshPort": float64(2222),
		"cloudImage": map[string]any{"url": "https://example.org/debian.qcow2", "sha256": "0000"}}
	if !reflect.DeepEqual(recipe, want) {
		t.Errorf("recipe through the flake: %v, want %v", recipe, want)
	}
}

// evalImages evaluates expr with images bound to nix/images.nix (no pkgs).
func evalImages(t *testing.T, expr string) ([]byte, error) {
	t.Helper()
	testutil.RequiresNix(t)
	lib := testutil.NixpkgsLib(t)
	full := "let images = import " + filepath.Join(repoRoot(t), "nix", "images.nix") + " { lib = import " + lib + "; }; in " + expr
	cmd := testutil.NixCommand(t, "nix-instantiate", "--eval", "--strict", "--json", "--expr", full)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, &nixError{stderr.String()}
	}
	return stdout.Bytes(), nil
}

type nixError struct{ msg string }

func (e *nixError) Error() string { return e.msg }

// TestImageFunctionsWriteRecipes: the image functions give recipe JSON
// with the recipe keys, unset arguments left out, and name a wrong or
// missing argument.
func TestImageFunctionsWriteRecipes(t *testing.T) {
	for _, tc := range []struct {
		name, expr string
		want       map[string]any
	}{
		{"linux", `(images.mkLinuxImage { name = "dev"; cloudImage.path = "/images/debian.qcow2"; hostname = "dev"; username = "me"; memory = 2048; cpus = 2; diskSize = "20G"; packages = [ "git" ]; writeFiles = [ { path = "/etc/motd"; content = "hi"; permissions = "0644"; } ]; runcmd = [ "true" ]; finalize = true; sshPublicKey = null; }).recipeJSON`,
			map[string]any{"name": "dev", "kind": "linux", "cloudImage": map[string]any{"path": "/images/debian.qcow2"}, "hostname": "dev", "username": "me", "memory": float64(2048), "cpus": float64(2), "diskSize": "20G",
				"packages": []any{"git"}, "writeFiles": []any{map[string]any{"path": "/etc/motd", "content": "hi", "permissions": "0644"}}, "runcmd": []any{"true"}, "finalize": true}},
		{"windows", `(images.mkWindowsImage { name = "ci-windows"; windowsIso = { url = "https://example.org/win.iso"; sha256 = "ab"; }; virtioDriversIso.path = "/isos/virtio-win.iso"; username = "agent"; passwordFile = "/run/secrets/pw"; edition = "Windows 11 Pro"; enableTpm = true; secureBoot = true; answerMedia = "iso"; automationConfig = "/scripts/oobe.yaml"; rdpPort = 3389; installTimeout = "1h"; }).recipeJSON`,
			map[string]any{"name": "ci-windows", "kind": "windows", "windowsIso": map[string]any{"url": "https://example.org/win.iso", "sha256": "ab"}, "virtioDriversIso": map[string]any{"path": "/isos/virtio-win.iso"},
				"username": "agent", "passwordFile": "/run/secrets/pw", "edition": "Windows 11 Pro", "enableTpm": true, "secureBoot": true, "answerMedia": "iso", "automationConfig": "/scripts/oobe.yaml", "rdpPort": float64(3389), "installTimeout": "1h"}},
		{"macos", `(images.mkMacImage { name = "mac"; baseSystem.release = "sonoma"; openCore.path = "/images/OpenCore.qcow2"; automationConfig = "/scripts/setup-assistant.yaml"; password = "x"; }).recipeJSON`,
			map[string]any{"name": "mac", "kind": "macos", "baseSystem": map[string]any{"release": "sonoma"}, "openCore": map[string]any{"path": "/images/OpenCore.qcow2"}, "automationConfig": "/scripts/setup-assistant.yaml", "password": "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := evalImages(t, tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			var text string
			if err := json.Unmarshal(out, &text); err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(text), &got); err != nil {
				t.Fatalf("recipeJSON is not JSON: %v: %s", err, text)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("recipe\n got %v\nwant %v", got, tc.want)
			}
		})
	}
	for _, tc := range []struct{ name, expr, want string }{
		{"misspelt argument", `(images.mkLinuxImage { name = "dev"; cloudImage.path = "/x"; hostname = "dev"; instalNix = true; }).recipeJSON`, `mkLinuxImage "dev": unknown argument instalNix (did you mean installNix?)`},
		{"missing argument", `(images.mkLinuxImage { name = "dev"; cloudImage.path = "/x"; }).recipeJSON`, `mkLinuxImage "dev": missing argument hostname`},
		{"windows key on linux", `(images.mkLinuxImage { name = "dev"; cloudImage.path = "/x"; hostname = "d"; windowsIso.path = "/w.iso"; }).recipeJSON`, `unknown argument windowsIso`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := evalImages(t, tc.expr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error containing %q, got %v", tc.want, err)
			}
		})
	}
}

// TestImageFunctionsBuildDerivation: with pkgs the functions give a
// derivation that needs KVM, runs deskvm image build on the recipe, and
// hands deskvm Nix-fetched paths instead of URLs (stub pkgs record what
// the functions ask nixpkgs for).
func TestImageFunctionsBuildDerivation(t *testing.T) {
	testutil.RequiresNix(t)
	lib := testutil.NixpkgsLib(t)
	expr := `let
  lib = import ` + lib + `;
  stub = name: attrs: { type = "derivation"; inherit name; outPath = "/nix/store/00000000000000000000000000000000-${name}"; } // attrs;
  pkgs = {
    fetchurl = a: stub "fetched-${baseNameOf a.url}" { inherit (a) url sha256; };
    runCommand = name: env: script: stub name { inherit env script; };
  };
  images = import ` + filepath.Join(repoRoot(t), "nix", "images.nix") + ` { inherit lib pkgs; deskvm = stub "deskvm" { }; };
  d = images.mkLinuxImage { name = "dev"; cloudImage = { url = "https://example.org/debian.qcow2"; sha256 = "abcd"; }; hostname = "dev"; };
in {
  inherit (d) name script;
  features = d.env.requiredSystemFeatures;
  buildRecipe = builtins.fromJSON d.env.buildRecipe;
  recipe = d.env.passthru.recipe;
}`
	cmd := testutil.NixCommand(t, "nix-instantiate", "--eval", "--strict", "--json", "--expr", expr)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	var got struct {
		Name        string         `json:"name"`
		Script      string         `json:"script"`
		Features    []string       `json:"features"`
		BuildRecipe map[string]any `json:"buildRecipe"`
		Recipe      map[string]any `json:"recipe"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Name != "deskvm-image-dev" || !reflect.DeepEqual(got.Features, []string{"kvm"}) || !strings.Contains(got.Script, `deskvm image build recipe.json --out "$out"`) {
		t.Errorf("derivation: %+v", got)
	}
	if want := map[string]any{"path": "/nix/store/00000000000000000000000000000000-fetched-debian.qcow2"}; !reflect.DeepEqual(got.BuildRecipe["cloudImage"], want) {
		t.Errorf("build recipe's cloudImage %v, want the fetched path %v", got.BuildRecipe["cloudImage"], want)
	}
	if want := map[string]any{"url": "https://example.org/debian.qcow2", "sha256": "abcd"}; !reflect.DeepEqual(got.Recipe["cloudImage"], want) {
		t.Errorf("passthru recipe's cloudImage %v, want the URL form", got.Recipe["cloudImage"])
	}
}

// TestImageRecipePlans feeds the recipe JSON of mkLinuxImage to deskvm
// image plan: the Go recipe loader accepts what the Nix function writes.
func TestImageRecipePlans(t *testing.T) {
	out, err := evalImages(t, `(images.mkLinuxImage { name = "nix-dev"; cloudImage = { url = "https://example.org/debian-12-genericcloud-amd64.qcow2"; sha256 = "`+strings.Repeat("ab", 32)+`"; }; hostname = "dev"; username = "dev"; memory = 2048; cpus = 2; diskSize = "20G"; runcmd = [ "true" ]; writeFiles = [ { path = "/etc/motd"; content = "hi"; } ]; installNix = true; finalize = true; }).recipeJSON`)
	if err != nil {
		t.Fatal(err)
	}
	var text string
	if err := json.Unmarshal(out, &text); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	recipe := filepath.Join(dir, "recipe.json")
	if err := os.WriteFile(recipe, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := deskvm("image", "plan", recipe, "--out", filepath.Join(dir, "out"))
	if code != 0 || !strings.Contains(stdout, "recipe nix-dev (linux)") {
		t.Fatalf("deskvm image plan of the Nix recipe: exit %d\n%s%s\nrecipe: %s", code, stdout, stderr, text)
	}
}

// TestImageFunctionsLoadInGo: what each of mkLinuxImage, mkWindowsImage
// and mkMacImage writes, with inputs given as a Nix path or a string (the
// docs' `windowsIso = ./Win11.iso;`), is a recipe deskvm's Go loader
// accepts without problems.
func TestImageFunctionsLoadInGo(t *testing.T) {
	dir := t.TempDir()
	file := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	script := filepath.Join(dir, "setup.automation.yaml")
	if err := os.WriteFile(script, []byte("boot_commands:\n  - wait: Welcome\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"linux, path": `images.mkLinuxImage { name = "l"; cloudImage = ` + file("debian.qcow2") + `; hostname = "h"; installNix = true; }`,
		"windows, path and string": `images.mkWindowsImage { name = "w"; windowsIso = ` + file("Win11.iso") + `; virtioDriversIso = "` + file("virtio.iso") +
			`"; username = "agent"; password = "x"; edition = "Windows 11 Pro"; automationConfig = "` + script + `"; }`,
		"macos, strings": `images.mkMacImage { name = "m"; baseSystem = { release = "sonoma"; }; openCore = "` + file("OpenCore.qcow2") +
			`"; automationConfig = "` + script + `"; username = "me"; password = "x"; }`,
	}
	for name, expr := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := evalImages(t, "("+expr+").recipeJSON")
			if err != nil {
				t.Fatal(err)
			}
			var text string
			if err := json.Unmarshal(out, &text); err != nil {
				t.Fatal(err)
			}
			r, _, err := image.Load(filepath.Join(dir, "recipe.json"), []byte(text))
			if err != nil {
				t.Fatalf("the Go loader refuses the recipe: %v\n%s", err, text)
			}
			if ps := r.Validate(); len(ps) > 0 {
				t.Fatalf("recipe problems: %v\n%s", ps, text)
			}
		})
	}
	if _, err := evalImages(t, `(images.mkWindowsImage { name = "w"; windowsIso = "/w.iso"; }).recipeJSON`); err == nil || !strings.Contains(err.Error(), "missing argument virtioDriversIso") {
		t.Errorf("a windows image without virtioDriversIso: %v", err)
	}
}
