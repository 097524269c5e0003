# codedeploy-relink from the AWS Serverless Application Repository, with Terraform: one stack per
# account and region. See the README's "Install" section; the variables are the template's
# parameters of the same purpose.

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

variable "application_id" {
  description = "The application's ARN in the Serverless Application Repository (see the release notes)."
  type        = string
}

variable "semantic_version" {
  description = "The release to install, e.g. 0.1.0."
  type        = string
}

variable "trigger_source" {
  description = "sns, eventbridge or both."
  type        = string
  default     = "eventbridge"
}

variable "deployment_groups" {
  description = "Allow-list of application/group patterns; empty for every deployment group."
  type        = string
  default     = ""
}

variable "dry_run" {
  description = "true: decide and log, attach nothing. Start with it, read the reports, then set false."
  type        = bool
  default     = true
}

variable "alarm_email" {
  description = "E-mail address for the alarms; empty for none."
  type        = string
  default     = ""
}

resource "aws_serverlessapplicationrepository_cloudformation_stack" "relink" {
  name             = "codedeploy-relink"
  application_id   = var.application_id
  semantic_version = var.semantic_version
  # The function's role (IAM) and the topic, queue and invoke permissions (resource policies).
  capabilities = ["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"]

  parameters = {
    TriggerSource    = var.trigger_source
    DeploymentGroups = var.deployment_groups
    DryRun           = tostring(var.dry_run)
    AlarmEmail       = var.alarm_email
  }
}

output "function_arn" {
  value = aws_serverlessapplicationrepository_cloudformation_stack.relink.outputs["FunctionArn"]
}

output "topic_arn" {
  description = "Empty unless trigger_source is sns or both."
  value       = lookup(aws_serverlessapplicationrepository_cloudformation_stack.relink.outputs, "TopicArn", "")
}

output "dashboard_url" {
  value = lookup(aws_serverlessapplicationrepository_cloudformation_stack.relink.outputs, "DashboardUrl", "")
}
