{
  description = "deskvm: declarative, fast and automatable virtual machines for Linux workstations";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      version = "0.1.0-${self.shortRev or self.dirtyShortRev or "dirty"}";
      images = import ./nix/images.nix;
    in
    {
      packages = forAllSystems (pkgs: {
        default = pkgs.buildGoModule {
          pname = "deskvm";
          inherit version;
          src = self;
          # The hash of `go mod vendor`; a test in `make test`
          # (internal/nixos TestFlakeVendorHash) recomputes it.
          vendorHash = "sha256-JKLJeiwU8r840Dww3Ogaf64s94d0oQc7hHqObbwFJBY=";
          subPackages = [ "cmd/deskvm" ];
          env.CGO_ENABLED = 0;
          ldflags = [ "-s" "-w" "-X github.com/deskvm/deskvm/internal/cli.version=${version}" ];
          # The tests need libvirtd, QEMU and tesseract; make test runs them.
          doCheck = false;
          meta = {
            description = "Declarative desktop VMs on libvirt, VM image builds and VNC+OCR automation";
            mainProgram = "deskvm";
            license = lib.licenses.mit;
            platforms = lib.platforms.linux;
          };
        };
      });

      # virtualisation.desktopVMs, with the package of this flake.
      nixosModules.default = { pkgs, lib, ... }: {
        imports = [ ./nix/module.nix ];
        virtualisation.desktopVMs.package =
          lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
      };

      # The image functions. Without pkgs they return the recipe only:
      # deskvm.lib.mkLinuxImage { … }.recipeJSON. deskvm.lib.imagesFor pkgs
      # gives the same functions returning derivations that build the image.
      lib = images { inherit lib; } // {
        imagesFor = pkgs: images {
          inherit lib pkgs;
          deskvm = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };
      };

      checks = forAllSystems (pkgs:
        let system = pkgs.stdenv.hostPlatform.system;
        in {
          # The module evaluates in a real NixOS system with the seed's
          # full example, and its config passes deskvm config validate.
          module-eval = (nixpkgs.lib.nixosSystem {
            inherit system;
            modules = [
              self.nixosModules.default
              ./examples/seed-full.nix
              { boot.loader.grub.enable = false; fileSystems."/".device = "/dev/null"; system.stateVersion = "25.11"; }
            ];
          }).config.system.build.toplevel;
        } // lib.optionalAttrs (system == "x86_64-linux") {
          # Boots a NixOS VM with the module (needs KVM): deskvm-apply
          # defines the VM of the Quick Start, vm-NAME works.
          vm = pkgs.testers.nixosTest {
            name = "deskvm";
            nodes.machine = {
              imports = [ self.nixosModules.default ];
              virtualisation.memorySize = 2048;
              virtualisation.desktopVMs = {
                enable = true;
                accelerator = "tcg";
                vms.demo = { memory = "256M"; vcpus = 1; network = "user"; display = "vnc"; };
              };
            };
            testScript = ''
              machine.wait_for_unit("deskvm-apply.service")
              machine.succeed("virsh -c qemu:///system dominfo demo")
              machine.succeed("vm-demo status")
              machine.succeed("deskvm plan | grep -q 'Nothing to change'")
            '';
          };
        });

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = with pkgs; [ go gopls libvirt qemu swtpm OVMFFull.fd tesseract nix ];
          env.CGO_ENABLED = 0;
        };
      });
    };
}
