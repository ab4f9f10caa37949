# The spotcheck runner AMI: Amazon Linux 2023 with git, bash, Node 20, common toolchains and the spotcheck agent, plus
# for capacity mode Gitea's act_runner, GitHub's actions runner (pinned and checksummed) and the capacity launcher.
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

# Capacity runners (ami/README.md, "Capacity runners"). The versions are pinned here; the SHA-256 of each release
# asset for the architecture being built has no default, so `packer build` refuses to start until it is pinned, and
# provision.sh checks the downloads with `sha256sum -c` against it.
variable "act_runner_version" {
  type        = string
  default     = "0.3.1"
  description = "Gitea act_runner release (gitea.com/gitea/act_runner); --ephemeral registration needs >= 0.2.12"
  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.act_runner_version))
    error_message = "act_runner_version is a release number such as 0.3.1 (no leading v)."
  }
}

variable "act_runner_sha256" {
  type        = string
  description = "SHA-256 of act_runner-<version>-linux-<amd64|arm64> for var.arch"
  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.act_runner_sha256))
    error_message = "act_runner_sha256 must be the lowercase hex SHA-256 of the release asset."
  }
}

variable "actions_runner_version" {
  type        = string
  default     = "2.328.0"
  description = "GitHub actions runner release (github.com/actions/runner)"
  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.actions_runner_version))
    error_message = "actions_runner_version is a release number such as 2.328.0 (no leading v)."
  }
}

variable "actions_runner_sha256" {
  type        = string
  description = "SHA-256 of actions-runner-linux-<x64|arm64>-<version>.tar.gz for var.arch"
  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.actions_runner_sha256))
    error_message = "actions_runner_sha256 must be the lowercase hex SHA-256 of the release asset."
  }
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
    ActRunner         = var.act_runner_version
    ActionsRunner     = var.actions_runner_version
  }
}

build {
  sources = ["source.amazon-ebs.runner"]

  provisioner "file" {
    source      = var.agent_bundle
    destination = "/tmp/spotcheck-agent.tgz"
  }

  provisioner "file" {
    source      = "${path.root}/capacity-runner.sh"
    destination = "/tmp/capacity-runner.sh"
  }

  provisioner "shell" {
    script          = "${path.root}/provision.sh"
    execute_command = "sudo -E bash '{{ .Path }}'"
    env = {
      AGENT_BUNDLE           = "/tmp/spotcheck-agent.tgz"
      CAPACITY_LAUNCHER      = "/tmp/capacity-runner.sh"
      ARCH                   = var.arch
      ACT_RUNNER_VERSION     = var.act_runner_version
      ACT_RUNNER_SHA256      = var.act_runner_sha256
      ACTIONS_RUNNER_VERSION = var.actions_runner_version
      ACTIONS_RUNNER_SHA256  = var.actions_runner_sha256
    }
  }
}
