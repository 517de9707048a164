# The example manager's root module on the test cloud (`fleetform/fakecloud`,
# crates/fakecloud): the same variables as examples/manager/terraform, with
# networks, instances and buckets that live in a JSON "cloud" file
# (FAKECLOUD_FILE). tests/cloud/real.rs runs the example fleet on it; to try
# it by hand see README, "Test cloud: fakecloud".
terraform {
  required_version = ">= 1.5.0"
  required_providers {
    fakecloud = { source = "fleetform/fakecloud" }
  }
}

variable "customer" { type = string }
variable "environment" { type = string }
variable "project_name" { type = string }
variable "cloud_provider" { type = string }
variable "region" { type = string }
variable "instance_type" { type = string }
variable "min_instances" { type = number }
variable "max_instances" { type = number }
variable "networking" {
  type = object({
    vpc_cidr           = string
    availability_zones = number
  })
}
variable "tags" {
  type    = map(string)
  default = {}
}

resource "fakecloud_network" "main" {
  name  = "${var.customer}-${var.environment}"
  cidr  = var.networking.vpc_cidr
  zones = var.networking.availability_zones
  tags  = var.tags
}

resource "fakecloud_instance" "web" {
  count         = var.min_instances
  name          = "${var.customer}-${var.environment}-web-${count.index}"
  network_id    = fakecloud_network.main.id
  instance_type = var.instance_type
  tags          = var.tags
}

resource "fakecloud_bucket" "logs" {
  name       = "${var.customer}-${var.environment}-logs"
  versioning = true
}

output "instance_count" {
  value = length(fakecloud_instance.web)
}
