# The appliance is built with QEMU from the local base image. User-mode networking is restricted (the guest
# reaches nothing but the forwarded SSH port on 127.0.0.1): every package is already in the base image and the
# devcloud wheelhouse is copied over SSH.
source "qemu" "appliance" {
  accelerator      = var.accelerator
  disk_image       = true
  iso_url          = var.base_image
  iso_checksum     = "none"
  use_backing_file = false
  output_directory = var.output_dir
  vm_name          = "${local.vm_name}.qcow2"
  format           = "qcow2"
  disk_size        = var.disk_size
  disk_compression = true
  disk_interface   = "virtio"
  net_device       = "virtio-net"
  cpus             = var.cpus
  memory           = var.memory
  headless         = true
  vnc_bind_address = "127.0.0.1"
  host_port_min    = 42220
  host_port_max    = 42299
  qemuargs = [
    ["-netdev", "user,id=user.0,restrict=on,hostfwd=tcp:127.0.0.1:{{ .SSHHostPort }}-:22"],
    ["-device", "virtio-net,netdev=user.0"],
    ["-serial", "file:${var.output_dir}-console.log"],
    # entropy for first-boot SSH host keys (without it ssh-keygen waits ~2 min under TCG)
    ["-object", "rng-random,id=rng0,filename=/dev/urandom"],
    ["-device", "virtio-rng-pci,rng=rng0"],
    ["-cpu", var.cpu],
  ]
  communicator         = "ssh"
  ssh_username         = "root"
  ssh_private_key_file = var.ssh_private_key_file
  ssh_timeout          = "20m"
  shutdown_command     = "shutdown -P now"
  shutdown_timeout     = "5m"
}
