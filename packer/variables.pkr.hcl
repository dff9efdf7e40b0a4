# Inputs of the appliance build. `devcloud build appliance` sets them; `packer validate` needs only these defaults.
variable "base_image" {
  type        = string
  default     = "../dist/appliance/base.qcow2"
  description = "The local Debian base image made with mmdebstrap (devcloud build base); nothing is downloaded."
}

variable "output_dir" {
  type        = string
  default     = "../dist/appliance/packer"
  description = "Packer's output directory (must not exist)."
}

variable "ssh_private_key_file" {
  type        = string
  default     = "../dist/appliance/build-key"
  description = "The build's SSH key; its public half is root's only authorized key in the base image."
}

variable "accelerator" {
  type        = string
  default     = "tcg"
  description = "kvm only where a KVM guest really boots on this host (the probe cache), else tcg."

  validation {
    condition     = contains(["kvm", "tcg"], var.accelerator)
    error_message = "The accelerator must be kvm or tcg."
  }
}

variable "cpu" {
  type        = string
  default     = "Nehalem"
  description = "QEMU's -cpu: host under KVM, a model without SVM under TCG (devcloud build passes guest_cpu(): why)."
}

variable "cpus" {
  type    = number
  default = 2
}

variable "memory" {
  type        = number
  default     = 2048
  description = "MiB."
}

variable "disk_size" {
  type        = string
  default     = "8G"
  description = "Set explicitly: without it Packer grows a disk image to 40 GB."

  validation {
    condition     = contains(["M", "G"], substr(var.disk_size, length(var.disk_size) - 1, 1))
    error_message = "The disk_size must look like 8G or 8192M."
  }
}

variable "ansible_playbook" {
  type        = string
  default     = "ansible-playbook"
  description = "The ansible-playbook to run (ansible-core 2.19 in /opt/ansible-tools)."
}

variable "wheelhouse" {
  type        = string
  default     = "../dist/wheelhouse"
  description = "devcloud's wheel and its dependencies (devcloud build wheelhouse)."
}

variable "flavor" {
  type        = string
  default     = "kvm"
  description = "kvm: the appliance is a KVM host. xen: it boots Debian's Xen and is dom0 (the xen_host role)."

  validation {
    condition     = contains(["kvm", "xen"], var.flavor)
    error_message = "The flavor must be kvm or xen."
  }
}

variable "pvboot_dir" {
  type        = string
  default     = "../dist/images/pvboot"
  description = "The tiny PV guests' kernel and initramfs (devcloud build images), for the xen flavor's host."
}

variable "xen_dom0_mem" {
  type        = string
  default     = "1536M,max:1536M"
  description = "dom0's memory in the xen flavor (the rest of the VM's memory is for PV guests)."
}

locals {
  # The Ansible groups the appliance belongs to: every group but the other flavor's hypervisor group.
  groups  = ["management", "database", "nfs", var.flavor == "xen" ? "xen_hosts" : "kvm_hosts"]
  vm_name = var.flavor == "xen" ? "devcloud-appliance-xen" : "devcloud-appliance"
  ansible_arguments = [
    "--extra-vars", "ansible_python_interpreter=/usr/bin/python3",
    "--extra-vars", "devcloud_wheelhouse=${var.wheelhouse}",
    "--extra-vars", "common_apt_update=false",
    "--extra-vars", "management_api_bind=0.0.0.0",
    # whether KVM works belongs to the machine the image boots on: Vagrant's or a farm's Ansible run probes there
    "--extra-vars", "kvm_host_probe=false",
    "--extra-vars", "xen_host_pvboot_dir=${var.pvboot_dir}",
    "--extra-vars", "xen_host_dom0_mem=${var.xen_dom0_mem}",
  ]
}
