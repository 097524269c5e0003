//! The rounds under forced answers: a missing deployment, attach batching, a partial attach, a
//! newer deployment and a newest-copy check that fails.

use super::*;

#[tokio::test]
async fn twenty_three_target_groups_attach_in_calls_of_at_most_ten() {
    let seen: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let record = seen.clone();
    let aws = Aws {
        attach_tg: mock!(aws_sdk_autoscaling::Client::attach_load_balancer_target_groups)
            .then_compute_output(move |input: &AttachLoadBalancerTargetGroupsInput| {
                record
                    .lock()
                    .unwrap()
                    .push(input.target_group_arns().to_vec());
                AttachLoadBalancerTargetGroupsOutput::builder().build()
            }),
        ..Aws::deployment(23, &[])
    };
    let invocation = aws.invoke().await;
    assert!(invocation.error.is_none(), "{:?}", invocation.error);

    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 3);
    assert!(
        calls.iter().all(|c| !c.is_empty() && c.len() <= 10),
        "{calls:?}"
    );
    let mut attached: Vec<String> = calls.into_iter().flatten().collect();
    attached.sort();
    let mut expected: Vec<String> = (0..23).map(|i| tg_arn(&tg_name(i))).collect();
    expected.sort();
    assert_eq!(attached, expected);
    assert_eq!(
        aws.describe_tg.num_calls(),
        2,
        "names are resolved 20 per call"
    );
}

#[tokio::test]
async fn missing_deployment_is_a_skip() {
    let aws = Aws {
        get: mock!(aws_sdk_codedeploy::Client::get_deployment).then_error(|| {
            GetDeploymentError::DeploymentDoesNotExistException(
                aws_sdk_codedeploy::types::error::DeploymentDoesNotExistException::builder()
                    .message("no such deployment")
                    .build(),
            )
        }),
        ..Aws::deployment(1, &[])
    };
    let invocation = aws.invoke().await;
    assert!(invocation.error.is_none());
    let report = &invocation.response.reports[0];
    assert_eq!(report.outcome, Outcome::Skipped);
    assert_eq!(
        report.reason.map(|r| r.code()),
        Some("deployment_not_found")
    );
    assert_eq!(
        aws.describe_asg.num_calls() + aws.describe_tg.num_calls(),
        0
    );
}

#[tokio::test]
async fn one_failed_attach_kind_keeps_what_succeeded_in_the_report() {
    let aws = Aws {
        attach_lb: failing(
            mock!(aws_sdk_autoscaling::Client::attach_load_balancers),
            403,
            "AccessDenied",
            "not authorized to perform: autoscaling:AttachLoadBalancers",
        ),
        ..Aws::deployment(1, &["web-clb"])
    };
    let invocation = aws.invoke().await;
    let error = invocation.error.expect("the invocation must fail");
    assert!(error.to_string().contains("AttachLoadBalancers"), "{error}");
    let report = &invocation.response.reports[0];
    assert_eq!(report.outcome, Outcome::Failed);
    assert_eq!(report.target_groups.attached, vec![tg_arn(&tg_name(0))]);
    assert_eq!(report.load_balancers.missing, vec!["web-clb".to_owned()]);
    assert_eq!(aws.attach_tg.num_calls(), 1);
}

#[tokio::test]
async fn a_newer_started_deployment_supersedes_the_copy_and_nothing_is_attached() {
    let aws = Aws {
        list: list_deployments(&[DEPLOYMENT, "d-NEWER0001"]),
        ..Aws::deployment(1, &[])
    };
    let newer = batch_get_deployments(&[(
        "d-NEWER0001",
        DeploymentStatus::InProgress,
        DeploymentCreator::User,
    )]);
    let invocation = aws.invoke_with(&[&newer]).await;
    assert!(invocation.error.is_none(), "{:?}", invocation.error);
    let report = &invocation.response.reports[0];
    assert_eq!(report.reason.map(|r| r.code()), Some("superseded"));
    assert!(
        report.detail.as_deref().unwrap().contains("d-NEWER0001"),
        "{report:?}"
    );
    // Listed by the deployment group's observation (round 1), read in round 2: superseded, with
    // no load balancer read and no second listing (a skip needs no fresh evidence).
    assert_eq!(aws.list.num_calls(), 1);
    assert_eq!(newer.num_calls(), 1);
    assert_eq!(aws.attach_tg.num_calls(), 0);
    assert_eq!(
        report.aws_rounds, 2,
        "GetDeployment ∥ the deployment group; the groups ∥ the newer deployment"
    );
}

#[tokio::test]
async fn deployments_codedeploy_made_by_itself_do_not_supersede_and_cost_one_round() {
    let aws = Aws {
        list: list_deployments(&[DEPLOYMENT, "d-SCALED001", "d-ROLLBACK1"]),
        ..Aws::deployment(1, &[])
    };
    let newer = batch_get_deployments(&[
        (
            "d-SCALED001",
            DeploymentStatus::Succeeded,
            DeploymentCreator::Autoscaling,
        ),
        (
            "d-ROLLBACK1",
            DeploymentStatus::Succeeded,
            DeploymentCreator::CodeDeployRollback,
        ),
    ]);
    let invocation = aws.invoke_with(&[&newer]).await;
    assert!(invocation.error.is_none(), "{:?}", invocation.error);
    let report = &invocation.response.reports[0];
    assert_eq!(report.outcome, Outcome::Relinked, "{report:?}");
    assert_eq!(
        newer.num_calls(),
        2,
        "in round 2 and just before the attach"
    );
    assert_eq!(aws.attach_tg.num_calls(), 1);
    assert_eq!(
        report.aws_rounds, 6,
        "one round more than an attach with no sibling (4, and the group read again before the attach)"
    );
}

#[tokio::test]
async fn a_newest_copy_check_that_fails_fails_the_job_and_attaches_nothing() {
    let (status, body) = json_error(400, "ThrottlingException");
    let aws = Aws {
        list: mock!(aws_sdk_codedeploy::Client::list_deployments)
            .sequence()
            .http_status(status, body)
            .repeatedly()
            .build(),
        ..Aws::deployment(1, &[])
    };
    let invocation = aws.invoke().await;
    let error = invocation.error.expect("the invocation must fail");
    assert_eq!(error.error_type(), "Relink.Retryable");
    assert!(error.to_string().contains("ListDeployments"), "{error}");
    assert_eq!(
        aws.list.num_calls(),
        6,
        "the SDK's 3 attempts, by the deployment group's observation and the newest-copy check"
    );
    assert_eq!(aws.attach_tg.num_calls(), 0);
}

#[tokio::test]
async fn a_newer_deployment_that_starts_after_round_two_is_caught_just_before_the_attach() {
    // The deployment group's observation lists only this deployment; by the time of the evidence,
    // a newer one has started.
    let listing = |ids: &[&str]| {
        ListDeploymentsOutput::builder()
            .set_deployments(Some(ids.iter().map(|i| i.to_string()).collect()))
            .build()
    };
    let aws = Aws {
        list: mock!(aws_sdk_codedeploy::Client::list_deployments)
            .sequence()
            .output(move || listing(&[DEPLOYMENT]))
            .output(move || listing(&[DEPLOYMENT, "d-NEWER0002"]))
            .build(),
        ..Aws::deployment(1, &[])
    };
    let newer = batch_get_deployments(&[(
        "d-NEWER0002",
        DeploymentStatus::InProgress,
        DeploymentCreator::User,
    )]);
    let invocation = aws.invoke_with(&[&newer]).await;
    let report = &invocation.response.reports[0];
    assert_eq!(
        report.reason.map(|r| r.code()),
        Some("superseded"),
        "{report:?}"
    );
    assert!(report.detail.as_deref().unwrap().contains("d-NEWER0002"));
    assert_eq!(
        aws.list.num_calls(),
        2,
        "observed, then listed just before the attach"
    );
    assert_eq!(aws.attach_tg.num_calls(), 0);
    assert_eq!(
        report.aws_rounds, 4,
        "GetDeployment, describe, evidence, creators"
    );
}

/// The copy as a second invocation reads it just before its attach, when the first one has
/// attached `arns` meanwhile.
fn linked_meanwhile(arns: &'static [usize]) -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
        .sequence()
        .output(group_output)
        .output(move || {
            let mut output = group_output();
            if let Some(group) = output
                .auto_scaling_groups
                .as_mut()
                .and_then(|g| g.first_mut())
            {
                group.target_group_arns = Some(arns.iter().map(|&i| tg_arn(&tg_name(i))).collect());
            }
            output
        })
        .repeatedly()
        .build()
}

#[tokio::test]
async fn a_copy_another_invocation_is_linking_is_left_to_it() {
    let aws = Aws {
        describe_asg: linked_meanwhile(&[0]),
        ..Aws::deployment(2, &[])
    };
    let invocation = aws.invoke().await;
    assert!(invocation.error.is_none(), "{:?}", invocation.error);
    let report = &invocation.response.reports[0];
    assert_eq!(report.reason.map(|r| r.code()), Some("being_linked"));
    assert_eq!(aws.attach_tg.num_calls(), 0);
    assert_eq!(
        aws.describe_asg.num_calls(),
        2,
        "round 2, and again before the attach"
    );
}

#[tokio::test]
async fn a_copy_another_invocation_linked_is_already_linked() {
    let aws = Aws {
        describe_asg: linked_meanwhile(&[0, 1]),
        ..Aws::deployment(2, &[])
    };
    let invocation = aws.invoke().await;
    assert!(invocation.error.is_none(), "{:?}", invocation.error);
    let report = &invocation.response.reports[0];
    assert_eq!(report.outcome, Outcome::AlreadyLinked);
    assert_eq!(aws.attach_tg.num_calls(), 0);
}
