# The app product: instances on the customer's network. `network_id` and
# `network_cidr` come from the network product's outputs (fleetform.yml,
# `needs:`), never from customer files.
terraform {
  required_version = ">= 1.5.0"
  required_providers {
    fakecloud = { source = "fleetform/fakecloud" }
  }
}

variable "customer" { type = string }
variable "environment" { type = string }
variable "network_id" { type = string }
variable "network_cidr" { type = string }
variable "instance_type" { type = string }
variable "instances" { type = number }

resource "fakecloud_instance" "web" {
  count         = var.instances
  name          = "${var.customer}-${var.environment}-web-${count.index}"
  network_id    = var.network_id
  instance_type = var.instance_type
  tags = {
    network_cidr = var.network_cidr
  }
}

output "instance_ids" {
  value = fakecloud_instance.web[*].id
}
