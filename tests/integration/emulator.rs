//! Drives the emulator of `tests/emulator/` (moto's server, corrected to answer as AWS does, plus
//! CodeDeploy's part and a request log; see relink_emulator.py). One emulator per test, on its own
//! free port, stopped when the test ends: forked from the pool that scripts/test starts
//! (`RELINK_EMULATOR_POOL`, a Unix socket), or else started as its own process (`serve`).

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The Python interpreter with moto installed: `RELINK_EMULATOR_PYTHON`, or the project's `.venv`
/// that `scripts/test` creates.
pub fn python() -> PathBuf {
    if let Ok(python) = std::env::var("RELINK_EMULATOR_PYTHON") {
        return python.into();
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no emulator: run the tests with scripts/test (it installs moto into .venv), or set RELINK_EMULATOR_PYTHON"
    );
    venv
}

pub struct Emulator {
    /// The emulator's own process, when it was not forked from the pool.
    child: Option<Child>,
    commands: Box<dyn Write>,
    answers: BufReader<Box<dyn Read>>,
    pub endpoint: String,
}

/// How the Lambda binary answered one invocation.
pub struct LambdaRun {
    /// `…/response`, `…/error` or `…/init/error`.
    pub path: String,
    /// The response or error document.
    pub body: Value,
    /// What the function logged (JSON lines).
    pub logs: Vec<String>,
}

impl LambdaRun {
    pub fn succeeded(&self) -> bool {
        self.path.ends_with("/response")
    }
}

/// Runs the real `relink` binary with nothing of the AWS environment but `vars`: no region, no
/// credentials, no instance metadata, no configuration files.
pub fn relink_bare(args: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_relink"));
    command
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .envs(vars.iter().copied());
    Run {
        output: command.output().expect("run relink"),
    }
}

/// A finished run of the `relink` binary.
pub struct Run {
    pub output: Output,
}

impl Run {
    pub fn success(&self) -> bool {
        self.output.status.success()
    }

    /// The JSON response printed with `--json`.
    pub fn response(&self) -> Value {
        serde_json::from_slice(&self.output.stdout).unwrap_or_else(|e| {
            panic!(
                "relink printed no JSON ({e}); stdout: {} stderr: {}",
                String::from_utf8_lossy(&self.output.stdout),
                String::from_utf8_lossy(&self.output.stderr)
            )
        })
    }

    /// The one report of a single-record event.
    pub fn report(&self) -> Value {
        let reports = self.response()["reports"].clone();
        assert_eq!(reports.as_array().map(Vec::len), Some(1), "{reports}");
        reports[0].clone()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
}

impl Emulator {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts an emulator with extra environment, e.g. `RELINK_EMULATOR_PAGE_SIZE`.
    pub fn start_with(vars: &[(&str, &str)]) -> Self {
        let (child, mut commands, answers): (Option<Child>, Box<dyn Write>, Box<dyn Read>) =
            match std::env::var("RELINK_EMULATOR_POOL") {
                Ok(socket) => {
                    let stream = UnixStream::connect(&socket)
                        .unwrap_or_else(|e| panic!("emulator pool at {socket}: {e}"));
                    let reader = stream.try_clone().expect("clone the pool connection");
                    (None, Box::new(stream), Box::new(reader))
                }
                Err(_) => {
                    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("tests/emulator/relink_emulator.py");
                    let mut child = Command::new(python())
                        .arg(script)
                        .arg("serve")
                        .envs(vars.iter().copied())
                        .stdin(Stdio::piped())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::inherit())
                        .spawn()
                        .expect("start the emulator");
                    let stdin = child.stdin.take().unwrap();
                    let stdout = child.stdout.take().unwrap();
                    (Some(child), Box::new(stdin), Box::new(stdout))
                }
            };
        if child.is_none() {
            let env: serde_json::Map<String, Value> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            writeln!(commands, "{}", json!({ "env": env })).unwrap();
            commands.flush().unwrap();
        }
        let mut answers = BufReader::new(answers);
        let mut line = String::new();
        answers.read_line(&mut line).expect("emulator ready line");
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("emulator did not start ({e}): {line:?}"));
        Emulator {
            child,
            commands,
            answers,
            endpoint: ready["endpoint"].as_str().unwrap().to_owned(),
        }
    }

    /// Sends one command of the protocol (protocol.py) and returns its result.
    pub fn call(&mut self, command: Value) -> Value {
        writeln!(self.commands, "{command}").unwrap();
        self.commands.flush().unwrap();
        let mut line = String::new();
        self.answers.read_line(&mut line).unwrap();
        let answer: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert_eq!(
            answer["ok"], true,
            "emulator command {command} failed: {}",
            answer["error"]
        );
        answer["result"].clone()
    }

    /// Builds a blue/green world; see `serve` in relink_emulator.py for the spec's keys.
    pub fn build(&mut self, spec: Value) -> Value {
        self.call(json!({"op": "build", "spec": spec}))
    }

    /// [`Emulator::build`] in another account and region.
    pub fn build_in(&mut self, account: &str, region: &str, spec: Value) -> Value {
        self.call(json!({"op": "build", "spec": spec, "account": account, "region": region}))
    }

    /// [`Emulator::group`] in another account and region.
    pub fn group_in(&mut self, account: &str, region: &str, name: &str) -> Value {
        self.call(json!({"op": "group", "name": name, "account": account, "region": region}))
    }

    /// An IAM role in `account` that the default account may assume (with `external_id` when
    /// given) -> its ARN.
    pub fn role(&mut self, account: &str, name: &str, external_id: Option<&str>) -> String {
        let arn = self.call(
            json!({"op": "role", "account": account, "name": name, "external_id": external_id}),
        );
        arn.as_str().unwrap().to_owned()
    }

    /// An organization of the default account with `members` new accounts -> their ids.
    pub fn organization(&mut self, members: u32) -> Vec<String> {
        let ids = self.call(json!({"op": "organization", "members": members}));
        serde_json::from_value(ids).unwrap()
    }

    /// `account` enables the opt-in `region` (what ListRegions reports).
    pub fn opt_in(&mut self, account: &str, region: &str) {
        self.call(json!({"op": "opt_in", "account": account, "region": region}));
    }

    /// The next deployment on a deployment group (see `deploy` in tests/emulator/world.py):
    /// `deployment_id`, `replacement_group`, `replaced_group`.
    pub fn deploy(&mut self, spec: Value) -> Value {
        self.call(json!({"op": "deploy", "spec": spec}))
    }

    /// A group's attachments: `exists`, `target_group_arns`, `load_balancer_names`, `instances`,
    /// and `serving`: the target groups and classic load balancers that send traffic to some
    /// instance of it.
    pub fn group(&mut self, name: &str) -> Value {
        self.call(json!({"op": "group", "name": name}))
    }

    /// Sets a group's capacity; instances that terminate leave every load balancer.
    pub fn scale(&mut self, group: &str, desired: u32) {
        self.call(json!({"op": "scale", "group": group, "desired": desired}));
    }

    /// Every instance of the group replaced (scaled to zero and back): the new ones are
    /// registered only where the group is attached. Returns the new instance ids.
    pub fn replace(&mut self, group: &str) -> Vec<String> {
        serde_json::from_value(self.call(json!({"op": "replace", "group": group}))).unwrap()
    }

    /// An operator registers `group`'s instances with the named target groups or classic load
    /// balancers (without attaching the group).
    pub fn register(&mut self, group: &str, names: &[&str]) {
        self.call(json!({"op": "register", "group": group, "names": names}));
    }

    /// An operator deregisters `group`'s instances from the named load balancers; they drain.
    pub fn deregister(&mut self, group: &str, names: &[&str]) {
        self.call(json!({"op": "deregister", "group": group, "names": names}));
    }

    /// DescribeTargetHealth reports these instances of `target_group` in `state`.
    pub fn target_state(&mut self, target_group: &str, instances: &[String], state: &str) {
        self.call(json!({"op": "target_state", "target_group": target_group,
            "instances": instances, "state": state}));
    }

    /// Deletes a classic load balancer.
    pub fn delete_load_balancer(&mut self, name: &str) {
        self.call(json!({"op": "delete_load_balancer", "name": name}));
    }

    /// Moves a deployment to `status` without moving traffic back (a failure after the shift
    /// with automatic rollback off).
    pub fn fail_without_rollback(&mut self, deployment_id: &str, groups: &[&str]) {
        self.call(
            json!({"op": "set_state", "deployment_id": deployment_id, "status": "Failed",
            "traffic_shifted": true, "target_groups": groups, "rollback": false}),
        );
    }

    /// Holds every request for `action` open this long, so that overlapping calls would be seen.
    pub fn delay(&mut self, action: &str, seconds: f64) {
        self.call(json!({"op": "delay", "action": action, "seconds": seconds}));
    }

    /// The most requests per action that were in flight at once.
    pub fn peak_in_flight(&mut self) -> BTreeMap<String, u64> {
        serde_json::from_value(self.call(json!({"op": "peak_in_flight"}))).unwrap()
    }

    /// Creates an SQS queue; returns its URL.
    pub fn queue(&mut self, name: &str) -> String {
        self.call(json!({"op": "queue", "name": name}))
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn send(&mut self, url: &str, body: &Value) {
        self.call(json!({"op": "send", "url": url, "body": body.to_string()}));
    }

    /// The bodies of the messages a queue holds, sorted.
    pub fn messages(&mut self, url: &str) -> Vec<Value> {
        let bodies: Vec<String> =
            serde_json::from_value(self.call(json!({"op": "messages", "url": url}))).unwrap();
        bodies
            .iter()
            .map(|b| serde_json::from_str(b).unwrap())
            .collect()
    }

    /// Attach calls to one Auto Scaling group that were in flight at the same time.
    pub fn attach_overlaps(&mut self) -> u64 {
        self.call(json!({"op": "attach_overlaps"}))
            .as_u64()
            .unwrap()
    }

    pub fn set_state(
        &mut self,
        deployment_id: &str,
        status: &str,
        traffic_shifted: bool,
        groups: &[&str],
    ) {
        self.call(
            json!({"op": "set_state", "deployment_id": deployment_id, "status": status,
            "traffic_shifted": traffic_shifted, "target_groups": groups}),
        );
    }

    pub fn delete_target_group(&mut self, name: &str) {
        self.call(json!({"op": "delete_target_group", "name": name}));
    }

    /// The next `times` requests for `action` get the AWS error `code` with HTTP `status`.
    pub fn fail(&mut self, action: &str, status: u16, code: &str, times: u32) {
        self.call(
            json!({"op": "fail", "action": action, "status": status, "code": code,
            "message": format!("{code} injected by the test"), "times": times}),
        );
    }

    /// Requests the function made since the last reset, per `service:Action`.
    pub fn requests(&mut self) -> BTreeMap<String, u64> {
        serde_json::from_value(self.call(json!({"op": "requests"}))).unwrap()
    }

    pub fn reset_requests(&mut self) {
        self.call(json!({"op": "reset_requests"}));
    }

    /// Runs the real `relink` binary against this emulator with the given arguments and
    /// RELINK_* variables. The CLI's own commands (`audit`, `dlq`) sign with their own access key:
    /// their requests are not the function's (see tests/policy/check_policy.py).
    pub fn relink(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let key = if args.iter().any(|a| ["audit", "dlq"].contains(a)) {
            "relink-cli"
        } else {
            "relink"
        };
        let mut all = vec![
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", key),
            ("AWS_SECRET_ACCESS_KEY", "relink"),
            ("AWS_REGION", "us-east-1"),
        ];
        all.extend_from_slice(vars);
        relink_bare(args, &all)
    }
}

impl Emulator {
    /// Runs the real Lambda binary for one event, against a local Lambda Runtime API that says
    /// the function's ARN is `function_arn`, and this emulator.
    pub fn invoke_lambda(
        &mut self,
        event: &Value,
        vars: &[(&str, &str)],
        function_arn: &str,
    ) -> LambdaRun {
        let env: serde_json::Map<String, Value> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let answer = self.call(json!({"op": "lambda",
            "command": [env!("CARGO_BIN_EXE_codedeploy-relink")], "event": event,
            "env": env, "function_arn": function_arn}));
        let body = answer["body"].as_str().unwrap_or_default();
        LambdaRun {
            path: answer["path"].as_str().unwrap_or_default().to_owned(),
            body: serde_json::from_str(body).unwrap_or(Value::Null),
            logs: serde_json::from_value(answer["logs"].clone()).unwrap_or_default(),
        }
    }
}

impl Drop for Emulator {
    /// A pooled emulator stops when its connection closes; its own process is killed.
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
