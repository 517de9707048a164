# Example root module. It uses only Terraform's builtin `terraform_data`
# resource, so it plans and applies offline; a real manager would declare
# cloud resources from the same variables.

terraform {
  required_version = ">= 1.5.0"
}

variable "customer" {
  type = string
}

variable "environment" {
  type = string
}

variable "project_name" {
  type = string
}

variable "cloud_provider" {
  type = string
}

variable "region" {
  type = string
}

variable "instance_type" {
  type = string
}

variable "min_instances" {
  type = number
}

variable "max_instances" {
  type = number
}

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

resource "terraform_data" "network" {
  input = {
    name  = "${var.project_name}-${var.environment}"
    cidr  = var.networking.vpc_cidr
    zones = var.networking.availability_zones
    tags  = var.tags
  }
}

resource "terraform_data" "instance" {
  count = var.min_instances
  input = {
    name          = "${var.project_name}-${var.environment}-${count.index}"
    instance_type = var.instance_type
    region        = var.region
    network       = terraform_data.network.id
  }
}

resource "terraform_data" "autoscaling" {
  input = {
    min = var.min_instances
    max = var.max_instances
  }
}

output "endpoint" {
  value = "https://${var.project_name}.${var.environment}.${var.region}.example.net"
}

output "instance_count" {
  value = length(terraform_data.instance)
}
