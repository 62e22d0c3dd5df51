# The NixOS module virtualisation.desktopVMs (deskvm's nixosModules.default).
#
# The option declarations are generated from deskvm's Go config schema
# into ./options.nix; this file is only the module's logic: it writes the
# options as /etc/deskvm/config.json (the file `deskvm apply` reads),
# checks that file with `deskvm config validate` at build time, and runs
# `deskvm apply` from a systemd unit after libvirtd.
{ config, lib, pkgs, ... }:
let
  cfg = config.virtualisation.desktopVMs;
  generated = import ./options.nix { inherit lib; };
  prefix = "virtualisation.desktopVMs";

  # Options that are the module's own, not keys of the config file.
  moduleOnly = [ "enable" "package" ];

  # Null means "not set": leave it out, so that deskvm's defaults (several
  # from the profile) apply exactly as for a YAML file that omits it.
  # Groups left empty that way go too.
  clean = v:
    if builtins.isAttrs v then
      lib.filterAttrs (_: x: x != null && x != { })
        (lib.mapAttrs (_: clean) (builtins.removeAttrs v [ "_module" ]))
    else if builtins.isList v then
      map clean v
    else
      v;

  configText = builtins.toJSON (clean (builtins.removeAttrs cfg moduleOnly));
  configFile = pkgs.writeText "deskvm-config.json" configText;

  enabledVMs = lib.filterAttrs (_: vm: vm.enable) cfg.vms;

  # The profile's default of an option the user left null.
  orProfile = value: path:
    if value != null then value else generated.profileDefaults.${cfg.profile}.${path};

  # Sizes as deskvm reads them: a whole number with a binary unit.
  sizeUnits = {
    B = 1; K = 1024; KiB = 1024; M = 1048576; MiB = 1048576;
    G = 1073741824; GiB = 1073741824; T = 1099511627776; TiB = 1099511627776;
  };
  sizeBytes = s:
    let m = builtins.match "([0-9]+)(B|K|KiB|M|MiB|G|GiB|T|TiB)" s;
    in lib.toInt (builtins.elemAt m 0) * sizeUnits.${builtins.elemAt m 1};

  # Boot-time hugepages: wanted when hugepages are on (by the option or the
  # profile) and not allocated on demand. The count is deskvm's: the given
  # one, or each enabled VM's memory rounded up to whole pages.
  hugepagesAtBoot = orProfile cfg.hugepages.enable "hugepages.enable" && !cfg.hugepages.onDemand;
  pageBytes = sizeBytes cfg.hugepages.size;
  pagesFor = vm: (sizeBytes vm.memory + pageBytes - 1) / pageBytes;
  hugepageCount =
    if cfg.hugepages.count != null && cfg.hugepages.count > 0 then cfg.hugepages.count
    else lib.foldl' (n: vm: n + pagesFor vm) 0 (lib.attrValues enabledVMs);

  # vm-NAME for every enabled VM: a link to deskvm, which acts as
  # `deskvm vm NAME` when called by that name.
  vmCommands = pkgs.runCommand "deskvm-vm-commands" { } ''
    mkdir -p $out/bin
    ${lib.concatMapStrings (name: ''
      ln -s ${cfg.package}/bin/deskvm $out/bin/${lib.escapeShellArg "vm-${name}"}
    '') (lib.attrNames enabledVMs)}
  '';

  # A bad config fails the system build (nixos-rebuild), not the boot.
  configCheck = pkgs.runCommand "deskvm-config-check" { } ''
    ${cfg.package}/bin/deskvm config validate -f ${configFile}
    touch $out
  '';

  # OVMF with secure boot and Microsoft's keys enrolled, where deskvm's
  # host probe looks for it on NixOS (OVMF_CODE.ms.fd + OVMF_VARS.ms.fd).
  ovmf = pkgs.OVMFFull.fd;
  ovmfFiles = [ "OVMF_CODE.fd" "OVMF_VARS.fd" "OVMF_CODE.ms.fd" "OVMF_VARS.ms.fd" ];

  vmAssertions = name: vm:
    let
      at = field: "${prefix}.vms.${name}.${field}";
      pins = if builtins.isList vm.cpuPinning then builtins.length vm.cpuPinning else 0;
    in
    [
      {
        assertion = builtins.match generated.vmNamePattern name != null
          && builtins.stringLength name <= generated.vmNameMaxLength;
        message = "${prefix}.vms: VM name \"${name}\" is not usable as a libvirt domain name and as the command vm-${name}: use up to ${toString generated.vmNameMaxLength} letters, digits, '.', '_' and '-', starting with a letter or digit";
      }
      {
        assertion = pins <= vm.vcpus;
        message = "${at "cpuPinning"}: ${toString pins} CPU sets for ${toString vm.vcpus} vCPUs: one set per vCPU at most";
      }
      {
        assertion = !(vm.secureBoot && vm.osType == "macos");
        message = "${at "secureBoot"}: secure boot cannot be used with osType macos: OpenCore needs it off";
      }
      {
        assertion = !(vm.secureBoot && vm.firmware != "uefi");
        message = "${at "secureBoot"}: secure boot requires firmware = \"uefi\"";
      }
      {
        assertion = vm.portForwards == null || vm.network == "user";
        message = "${at "portForwards"}: port forwards need network = \"user\" (network is ${vm.network})";
      }
    ];
in
{
  options.virtualisation.desktopVMs = generated.options // {
    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.deskvm or (throw "${prefix}.package is not set: use deskvm's flake (nixosModules.default sets it) or set it to deskvm's package");
      defaultText = lib.literalMD "deskvm's package (set by the flake's `nixosModules.default`)";
      description = "The deskvm package that runs `deskvm apply` and provides `deskvm` and the `vm-NAME` commands.";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = lib.concatLists (lib.mapAttrsToList vmAssertions cfg.vms);

    virtualisation.libvirtd = {
      enable = true;
      qemu.swtpm.enable = true;
      qemu.vhostUserPackages = [ pkgs.virtiofsd ];
    };

    systemd.tmpfiles.rules =
      map (f: "L+ /run/libvirt/nix-ovmf/${f} - - - - ${ovmf}/FV/${f}") ovmfFiles;

    environment.etc."deskvm/config.json".text = configText;

    environment.systemPackages = [ cfg.package vmCommands pkgs.virtiofsd ];

    boot.kernelParams = lib.optionals hugepagesAtBoot [
      "hugepagesz=${cfg.hugepages.size}"
      "hugepages=${toString hugepageCount}"
    ];

    system.checks = [ configCheck ];

    systemd.services.deskvm-apply = {
      description = "deskvm: make libvirt match /etc/deskvm/config.json";
      after = [ "libvirtd.service" ];
      requires = [ "libvirtd.service" ];
      wantedBy = [ "multi-user.target" ];
      # A changed config restarts the unit, which applies it again.
      restartTriggers = [ configFile ];
      path = [ cfg.package pkgs.nftables ];
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStart = "${cfg.package}/bin/deskvm apply -f /etc/deskvm/config.json";
      };
    };
  };
}
