# The spotcheck runner AMI: Amazon Linux 2023 with git, bash, Node 20, common toolchains and the spotcheck agent.
# Build: see ami/README.md. Routes point at the result with `ami: ami-…` (or a launch template that uses it).
packer {
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.3.0"
    }
  }
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "instance_type" {
  type    = string
  default = "t3.medium"
}

variable "arch" {
  type        = string
  default     = "x86_64"
  description = "x86_64 or arm64 (then use a Graviton instance_type such as t4g.medium)"
}

variable "agent_bundle" {
  type        = string
  default     = "dist/spotcheck-agent.tgz"
  description = "The agent bundle (npm pack of this repository) copied onto the image"
}

variable "subnet_id" {
  type    = string
  default = ""
}

variable "kms_key_id" {
  type        = string
  default     = ""
  description = "KMS key for the AMI's snapshots; empty = the account's default EBS key"
}

locals {
  timestamp = regex_replace(timestamp(), "[- TZ:]", "")
}

source "amazon-ebs" "runner" {
  region        = var.region
  instance_type = var.instance_type
  subnet_id     = var.subnet_id == "" ? null : var.subnet_id
  ssh_username  = "ec2-user"
  ami_name      = "spotcheck-runner-al2023-${var.arch}-${local.timestamp}"

  # The newest Amazon Linux 2023 image published by Amazon.
  source_ami_filter {
    filters = {
      name                = "al2023-ami-2023.*-kernel-*-${var.arch}"
      architecture        = var.arch
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }
    owners      = ["amazon"]
    most_recent = true
  }

  # IMDSv2 only on the build instance, and recorded on the AMI so instances launched from it default to it too.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  imds_support = "v2.0"

  # Encrypted root volume and snapshots.
  encrypt_boot = true
  kms_key_id   = var.kms_key_id == "" ? null : var.kms_key_id
  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_size           = 30
    volume_type           = "gp3"
    encrypted             = true
    delete_on_termination = true
  }

  tags = {
    Name              = "spotcheck-runner"
    "spotcheck:image" = "runner"
    BaseAMI           = "{{ .SourceAMIName }}"
  }
}

build {
  sources = ["source.amazon-ebs.runner"]

  provisioner "file" {
    source      = var.agent_bundle
    destination = "/tmp/spotcheck-agent.tgz"
  }

  provisioner "shell" {
    script          = "${path.root}/provision.sh"
    execute_command = "sudo -E bash '{{ .Path }}'"
    env = {
      AGENT_BUNDLE = "/tmp/spotcheck-agent.tgz"
    }
  }
}
