# Evaluates nix/module.nix without nixpkgs: nixpkgs' lib only, stub
# declarations of the NixOS options the module sets, and stub packages.
#
#   nix-instantiate --eval --strict --json nix/tests/eval.nix \
#     --arg lib 'import .../nixpkgs/lib' --arg configuration ./examples/seed-full.nix -A configJSON
#
# configuration is a NixOS-style module (path, function or attrset) that
# sets virtualisation.desktopVMs. The result:
#   configJSON   the exact text of /etc/deskvm/config.json
#   options      the declared option paths under virtualisation.desktopVMs
#                ("vms.<name>.memory", "vms.<name>.portForwards.*.host")
#   optionInfo   per option path: default (when it has one), hasDefault,
#                enum (when the type is one, also inside nullOr), nullable
#   assertions   the messages of the failing assertions
#   units        the systemd services the module defines
#   kernelParams boot.kernelParams; checks the names of system.checks;
#   virtualisation, tmpfiles and vmCommands (the script making vm-NAME)
{ lib, configuration }:
let
  inherit (lib) mkOption types;

  # A stand-in for a derivation: what types.package accepts and what
  # string interpolation turns into a store path.
  stubDrv = name: attrs: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  } // attrs;

  pkgs = {
    deskvm = stubDrv "deskvm" { };
    virtiofsd = stubDrv "virtiofsd" { };
    nftables = stubDrv "nftables" { };
    OVMFFull = stubDrv "OVMF" { fd = stubDrv "OVMF-fd" { }; };
    writeText = name: text: stubDrv name { inherit text; };
    runCommand = name: env: script: stubDrv name { inherit env script; };
  };

  # Exactly the NixOS options module.nix sets, as loosely typed stubs.
  stubs = {
    options = {
      assertions = mkOption { type = types.listOf types.unspecified; default = [ ]; };
      virtualisation.libvirtd = {
        enable = mkOption { type = types.bool; default = false; };
        qemu.swtpm.enable = mkOption { type = types.bool; default = false; };
        qemu.vhostUserPackages = mkOption { type = types.listOf types.package; default = [ ]; };
      };
      systemd.tmpfiles.rules = mkOption { type = types.listOf types.str; default = [ ]; };
      systemd.services = mkOption { type = types.attrsOf (types.attrsOf types.anything); default = { }; };
      environment.etc = mkOption {
        type = types.attrsOf (types.submodule { options.text = mkOption { type = types.lines; }; });
        default = { };
      };
      environment.systemPackages = mkOption { type = types.listOf types.package; default = [ ]; };
      boot.kernelParams = mkOption { type = types.listOf types.str; default = [ ]; };
      system.checks = mkOption { type = types.listOf types.package; default = [ ]; };
    };
  };

  eval = lib.evalModules {
    modules = [
      ../module.nix
      stubs
      { _module.args.pkgs = pkgs; }
      configuration
    ];
  };
  inherit (eval) config;
  top = eval.options.virtualisation.desktopVMs;

  # Walk the option tree: options, and the sub-options of submodule types
  # (attrsOf: "<name>", listOf: "*"), through nullOr.
  walk = prefix: opts:
    lib.concatLists (lib.mapAttrsToList
      (name: opt:
        let path = if prefix == "" then name else "${prefix}.${name}";
        in if lib.isOption opt then [{ inherit path opt; }] ++ walk' path opt.type
        else if builtins.isAttrs opt && name != "_module" then walk path opt
        else [ ])
      opts);
  unNull = t: if t.name == "nullOr" then t.nestedTypes.elemType else t;
  walk' = path: type0:
    let t = unNull type0;
    in if t.name == "submodule" then walk path (t.getSubOptions [ ])
    else if t.name == "attrsOf" then walk' "${path}.<name>" t.nestedTypes.elemType
    else if t.name == "listOf" then walk' "${path}.*" t.nestedTypes.elemType
    else [ ];
  all = builtins.filter (o: o.path != "_module") (walk "" top);

  enumOf = t:
    if t.name == "enum" then t.functor.payload.values or t.functor.payload
    else if t.name == "either" then enumOf t.nestedTypes.left ++ enumOf t.nestedTypes.right
    else [ ];
  info = o:
    let t = unNull o.opt.type;
    in {
      hasDefault = o.opt ? default;
      nullable = o.opt.type.name == "nullOr";
      type = o.opt.type.description;
      description = o.opt.description or "";
    }
    // lib.optionalAttrs (o.opt ? default && (builtins.tryEval o.opt.default).success) {
      default = o.opt.default;
    }
    // lib.optionalAttrs (enumOf t != [ ]) { enum = enumOf t; };
in
{
  configJSON = config.environment.etc."deskvm/config.json".text;
  options = map (o: o.path) all;
  optionInfo = builtins.listToAttrs (map (o: { name = o.path; value = info o; }) all);
  assertions = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
  units = config.systemd.services;
  kernelParams = config.boot.kernelParams;
  checks = map (c: c.name) config.system.checks;
  inherit (config) virtualisation;
  tmpfiles = config.systemd.tmpfiles.rules;
  vmCommands = (lib.findFirst (p: p.name == "deskvm-vm-commands") { script = ""; }
    config.environment.systemPackages).script;
}
