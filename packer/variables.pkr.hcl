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
