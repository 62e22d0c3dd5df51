# VM Images as Nix functions: mkLinuxImage, mkWindowsImage, mkMacImage.
#
# Each takes the reference builders' argument names (the keys of a deskvm
# image recipe, see docs/nixos.md) and
#   - without pkgs: returns { name; recipe; recipeJSON; }, the recipe deskvm
#     reads (unset arguments left out, so deskvm's defaults apply);
#   - with pkgs and deskvm: returns a derivation that writes the recipe and
#     runs `deskvm image build` (it needs a builder with KVM). Downloads
#     given as { url; sha256; } are fetched by Nix (pkgs.fetchurl) and
#     passed to deskvm as { path; }, as the build sandbox has no network.
{ lib, pkgs ? null, deskvm ? null }:
let
  common = [
    "name" "memory" "cpus" "diskSize" "sshPort" "username" "sshPublicKey"
    "health" "firmware"
  ];
  keys = {
    linux = common ++ [
      "cloudImage" "hostname" "packages" "runcmd" "writeFiles" "installNix" "finalize" "bootTimeout"
    ];
    windows = common ++ [
      "windowsIso" "virtioDriversIso" "edition" "imageIndex" "password" "passwordFile"
      "computerName" "timezone" "locale" "productKey" "enableTpm" "secureBoot"
      "answerMedia" "automationConfig" "installTimeout" "rdpPort"
    ];
    macos = common ++ [ "baseSystem" "openCore" "automationConfig" "password" "passwordFile" ];
  };
  required = {
    linux = [ "name" "cloudImage" "hostname" ];
    windows = [ "name" "windowsIso" "virtioDriversIso" ];
    macos = [ "name" "baseSystem" "openCore" "automationConfig" ];
  };
  # Inputs that may be downloads: { url; sha256; } or { path; }.
  downloads = [ "cloudImage" "windowsIso" "virtioDriversIso" "baseSystem" ];

  fnName = kind: { linux = "mkLinuxImage"; windows = "mkWindowsImage"; macos = "mkMacImage"; }.${kind};

  check = kind: args:
    let
      unknown = builtins.filter (k: !(builtins.elem k keys.${kind})) (builtins.attrNames args);
      missing = builtins.filter (k: !(args ? ${k}) || args.${k} == null) required.${kind};
      suggest = k:
        let close = builtins.filter (c: lib.toLower c == lib.toLower k || lib.strings.levenshtein c k <= 2) keys.${kind};
        in lib.optionalString (close != [ ]) " (did you mean ${builtins.head close}?)";
      where = fnName kind + lib.optionalString (args ? name) " \"${args.name}\"";
    in
    if unknown != [ ] then
      throw "${where}: unknown argument ${builtins.head unknown}${suggest (builtins.head unknown)}; known: ${lib.concatStringsSep ", " keys.${kind}}"
    else if missing != [ ] then
      throw "${where}: missing argument ${lib.concatStringsSep ", " missing}"
    else
      true;

  # Inputs given as a file: a Nix path (./Win11.iso) or a string stands
  # for { path = …; }, the form deskvm's recipe loader reads.
  files = downloads ++ [ "openCore" ];
  asInput = k: v:
    if builtins.elem k files && (builtins.isPath v || builtins.isString v) then { path = v; } else v;

  recipeOf = kind: args:
    assert check kind args;
    lib.mapAttrs asInput (lib.filterAttrs (_: v: v != null) args) // { inherit kind; };

  # A download becomes a store path fetched (and hash-checked) by Nix.
  fetched = recipe:
    lib.mapAttrs
      (k: v:
        if builtins.elem k downloads && builtins.isAttrs v && v ? url && v ? sha256 then
          { path = pkgs.fetchurl { inherit (v) url sha256; }; }
        else v)
      recipe;

  make = kind: args:
    let
      recipe = recipeOf kind args;
      recipeJSON = builtins.toJSON recipe;
    in
    if pkgs == null || deskvm == null then
      { inherit (recipe) name; inherit recipe recipeJSON; }
    else
      pkgs.runCommand "deskvm-image-${recipe.name}"
        {
          nativeBuildInputs = [ deskvm ];
          requiredSystemFeatures = [ "kvm" ];
          buildRecipe = builtins.toJSON (fetched recipe);
          passAsFile = [ "buildRecipe" ];
          passthru = { inherit recipe recipeJSON; };
        } ''
        cp "$buildRecipePath" recipe.json
        deskvm image build recipe.json --out "$out"
      '';
in
{
  mkLinuxImage = make "linux";
  mkWindowsImage = make "windows";
  mkMacImage = make "macos";
}
