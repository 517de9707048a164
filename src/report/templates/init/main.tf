# The root module every customer × environment is planned with, written by
# `fleetform init`. It uses only Terraform's builtin `terraform_data`
# resource, so it plans and applies without providers or network; declare
# your cloud resources from the same variables.

terraform {
  required_version = ">= 1.5.0"
}

# Set by values/base.yml for every customer × environment.
variable "customer" {
  type = string
}

variable "environment" {
  type = string
}

# Required by the schema in every customer's infra/variables.yml.
variable "project_name" {
  type = string
}

variable "instance_count" {
  type = number
}

variable "tags" {
  type    = map(string)
  default = {}
}

resource "terraform_data" "deployment" {
  input = {
    name           = "${var.project_name}-${var.environment}"
    instance_count = var.instance_count
    tags           = var.tags
  }
}

output "name" {
  value = terraform_data.deployment.output.name
}

# A customer secret (`writeOnly: true` in the schema, the value in the
# customer's age-encrypted infra/secrets.<env>.yml) reaches Terraform as a
# variable. Declare it sensitive, and ephemeral wherever the provider takes
# it through a write-only argument (Terraform 1.11+): Terraform then keeps
# it in neither the saved plan nor the state, and fleetform decrypts it
# again for the apply (README, "Customer secrets"). For example:
#
# variable "db_password" {
#   type      = string
#   sensitive = true
#   ephemeral = true
# }
#
# resource "aws_db_instance" "main" {
#   # ...
#   password_wo         = var.db_password
#   password_wo_version = 1
# }
