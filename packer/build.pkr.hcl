# One build: the qemu source, provisioned by playbooks/site.yml with the sandbox's groups (the appliance is every
# group but xen_hosts), then a qcow2 and a Vagrant box for libvirt. `devcloud build appliance` makes the
# VirtualBox box from the same disk afterwards (VMDK + OVF; VirtualBox itself is not available to Packer here).
build {
  sources = ["source.qemu.appliance"]

  provisioner "ansible" {
    command       = var.ansible_playbook
    playbook_file = "${path.root}/../playbooks/site.yml"
    use_proxy     = false
    user          = "root"
    host_alias    = "appliance"
    groups        = ["management", "database", "nfs", "kvm_hosts"]
    extra_arguments = [
      "--extra-vars", "ansible_python_interpreter=/usr/bin/python3",
      "--extra-vars", "devcloud_wheelhouse=${var.wheelhouse}",
      "--extra-vars", "common_apt_update=false",
      "--extra-vars", "management_api_bind=0.0.0.0",
      # whether KVM works belongs to the machine the image boots on: Vagrant's or a farm's Ansible run probes there
      "--extra-vars", "kvm_host_probe=false",
    ]
    ansible_env_vars = [
      "ANSIBLE_HOST_KEY_CHECKING=False", "ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0", "ANSIBLE_PIPELINING=True",
      "ANSIBLE_GATHERING=smart",
    ]
  }

  provisioner "ansible" {
    # The second run must change nothing (the roles are idempotent).
    command       = var.ansible_playbook
    playbook_file = "${path.root}/../playbooks/site.yml"
    use_proxy     = false
    user          = "root"
    host_alias    = "appliance"
    groups        = ["management", "database", "nfs", "kvm_hosts"]
    extra_arguments = [
      "--extra-vars", "ansible_python_interpreter=/usr/bin/python3",
      "--extra-vars", "devcloud_wheelhouse=${var.wheelhouse}",
      "--extra-vars", "common_apt_update=false",
      "--extra-vars", "management_api_bind=0.0.0.0",
      # whether KVM works belongs to the machine the image boots on: Vagrant's or a farm's Ansible run probes there
      "--extra-vars", "kvm_host_probe=false",
    ]
    ansible_env_vars = [
      "ANSIBLE_HOST_KEY_CHECKING=False", "ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0", "ANSIBLE_PIPELINING=True",
      "ANSIBLE_GATHERING=smart",
    ]
  }

  provisioner "shell" {
    # Seal: each machine made from the image gets its own database password and admin keys at first boot, not the
    # ones this build generated. The management role's devcloud-firstboot owns what sealing means (its marker, the
    # files it removes); this step only asks for it.
    inline = ["/usr/local/sbin/devcloud-firstboot --seal"]
  }

  post-processor "vagrant" {
    keep_input_artifact = true
    output              = "${var.output_dir}/../devcloud-appliance-{{ .Provider }}.box"
    compression_level   = 1
  }
}
