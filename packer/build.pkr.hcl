# One build: the qemu source, provisioned by playbooks/site.yml with the sandbox's groups (the appliance is every
# group but the other flavor's hypervisor group: kvm_hosts, or xen_hosts with -var flavor=xen), then a qcow2 and a
# Vagrant box for libvirt. `devcloud build appliance` makes the VirtualBox box from the same disk afterwards (VMDK +
# OVF; VirtualBox itself is not available to Packer here).
build {
  sources = ["source.qemu.appliance"]

  provisioner "ansible" {
    command         = var.ansible_playbook
    playbook_file   = "${path.root}/../playbooks/site.yml"
    use_proxy       = false
    user            = "root"
    host_alias      = "appliance"
    groups          = local.groups
    extra_arguments = local.ansible_arguments
    ansible_env_vars = [
      "ANSIBLE_HOST_KEY_CHECKING=False", "ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0", "ANSIBLE_PIPELINING=True",
      "ANSIBLE_GATHERING=smart",
    ]
  }

  provisioner "ansible" {
    # The second run must change nothing (the roles are idempotent).
    command         = var.ansible_playbook
    playbook_file   = "${path.root}/../playbooks/site.yml"
    use_proxy       = false
    user            = "root"
    host_alias      = "appliance"
    groups          = local.groups
    extra_arguments = local.ansible_arguments
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
    output              = "${var.output_dir}/../${local.vm_name}-{{ .Provider }}.box"
    compression_level   = 1
  }
}
