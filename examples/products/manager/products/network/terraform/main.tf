# The network product: one network per customer × environment on the test
# cloud. Its outputs feed the app product (fleetform.yml, `needs:`).
terraform {
  required_version = ">= 1.5.0"
  required_providers {
    fakecloud = { source = "fleetform/fakecloud" }
  }
}

variable "customer" { type = string }
variable "environment" { type = string }
variable "cidr" { type = string }
variable "zones" { type = number }

resource "fakecloud_network" "main" {
  name  = "${var.customer}-${var.environment}"
  cidr  = var.cidr
  zones = var.zones
}

output "id" {
  value = fakecloud_network.main.id
}

output "cidr" {
  value = fakecloud_network.main.cidr
}
