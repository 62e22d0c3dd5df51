# The seed's Configuration Reference (Global Options and Per-VM Options),
# unchanged, as one NixOS configuration module. examples/seed-full.yaml is
# the same config as a deskvm YAML file; the tests check that both render
# the same libvirt XML. `deskvm config validate` warns about two things
# here (both harmless): the SPICE port is opened while the display listens
# on 127.0.0.1 only, and 4 CPU sets pin 4 of the 8 vCPUs (the rest float).
{ ... }:
{
  virtualisation.desktopVMs = {
    enable = true;

    # Usage profile (sets defaults for other options)
    profile = "occasional";  # or "always-on"

    # Static hugepages configuration
    # Default: enabled for "always-on", disabled for "occasional"
    hugepages = {
      enable = true;
      size = "2M";      # or "1G" for gigabyte pages
      count = 8192;     # total_vm_memory / hugepage_size
    };

    # Firewall ports
    firewallPorts = {
      spice = true;     # Open 5900-5999 for SPICE
      vnc = false;      # Open 5900-5999 for VNC
    };

    # Storage configuration
    defaultStoragePool = "default";
    defaultStoragePath = "/var/lib/libvirt/images";
  };

  virtualisation.desktopVMs.vms.my-vm = {
    enable = true;

    # Identity
    uuid = "550e8400-e29b-41d4-a716-446655440000";  # optional, fixed UUID

    # Resources
    memory = "16G";
    vcpus = 8;
    diskSize = "200G";
    storagePool = "default";

    # CPU pinning (optional, for performance)
    cpuPinning = [
      "0-1"   # vCPU 0 -> host CPUs 0-1
      "2-3"   # vCPU 1 -> host CPUs 2-3
      "4-5"   # vCPU 2 -> host CPUs 4-5
      "6-7"   # vCPU 3 -> host CPUs 6-7
    ];

    # Display
    display = "spice";  # or "vnc" or "looking-glass"

    # Shared folders (VirtIO-FS)
    sharedFolders = {
      projects = "/home/user/projects";
      downloads = "/home/user/Downloads";
    };

    # OS type (affects optimizations)
    osType = "windows";  # or "linux" or "macos"

    # Windows 11 requirements
    tpm = true;
    secureBoot = true;

    # Startup behavior (default depends on profile)
    autoStart = false;

    # Memory balloon configuration
    memballoon = {
      enable = true;
      autodeflate = true;        # Release memory before OOM
      freePageReporting = true;  # Report free pages to host
      statsInterval = 5;         # Stats polling in seconds (0 = disabled)
    };

    # Additional libvirt XML (for PCI passthrough, etc.)
    extraDevices = ''
      <hostdev mode="subsystem" type="pci" managed="yes">
        <source>
          <address domain="0x0000" bus="0x01" slot="0x00" function="0x0"/>
        </source>
      </hostdev>
    '';
  };
}
