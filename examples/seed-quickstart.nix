# The seed's Quick Start, unchanged: a NixOS configuration module.
# nix/tests/eval.nix evaluates it; examples/seed-quickstart.yaml is the
# same config as a deskvm YAML file, and the tests check that both render
# the same libvirt XML.

# In your NixOS configuration
{ config, ... }:
{
  virtualisation.desktopVMs = {
    enable = true;
    profile = "occasional";  # or "always-on"

    vms.my-windows-vm = {
      enable = true;
      memory = "16G";
      vcpus = 4;
      osType = "windows";
    };
  };
}
