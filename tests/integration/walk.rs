//! A walk through CodeDeploy's lifecycle (tests/emulator/lifecycle.py): seeded stories, each a
//! blue/green deployment stepped through one step at a time, whose notifications reach relink on
//! time, late, never, twice or on both channels, with failures, rollbacks and scale events between
//! the steps; the sweep and `audit --fix` run at chosen steps. After every call to relink the
//! emulator checks the invariants against what it knows CodeDeploy did:
//!
//! - I1: no attach registered an instance CodeDeploy had not routed traffic to while it rerouted;
//! - I2: only the fleet CodeDeploy routes traffic to (or will at success) gained attachments;
//! - I3: once rerouting is complete, the serving fleet is linked by the next notification of its
//!   deployment or the next sweep (for a copy that launched instances CodeDeploy never routed: once
//!   the termination wait has begun, or at success with `KEEP_ALIVE`, which has no such signal);
//! - I4: a fleet scaled to zero and back is repaired by the next sweep, whatever `autoscaling`
//!   deployments it brought, and however old its deployment (some stories' deployments were
//!   created before the sweep's look-back);
//! - I5: once the deployment group is at rest, after any notification or sweep, no copy that
//!   CodeDeploy does not route traffic to holds any of its load balancers (a failed copy once its
//!   rollback is done, a copy a newer `KEEP_ALIVE` deployment superseded);
//! - I6: no detach deregistered an instance a load balancer served.
//!
//! A story may go on with a newer deployment after its success (the same termination action):
//! the older copy is superseded, kept running with `KEEP_ALIVE`. A failing walk prints the seed,
//! the story and the step.

use crate::emulator::Emulator;
use crate::fixtures::event_file;
use serde_json::{json, Value};

/// The walk's seed: change it to walk other stories; a failure prints it.
const SEED: u64 = 0x5EED_2026_1204;
const STORIES: usize = 18;
/// Stories walked at once, each against its own emulator.
const LANES: usize = 3;

const CONFIGS: [&str; 3] = [
    "CodeDeployDefault.OneAtATime",
    "CodeDeployDefault.HalfAtATime",
    "CodeDeployDefault.AllAtOnce",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Nowhere,
    /// After the first reroute batch, with or without automatic rollback.
    MidReroute {
        rollback: bool,
    },
    /// During the termination wait, rolled back.
    AfterShift,
    /// A CloudWatch alarm stops it during the termination wait, with or without automatic
    /// rollback (without, traffic stays on the copy).
    AlarmDuringWait {
        rollback: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scale {
    None,
    /// The copy scales out after the first reroute batch: an instance CodeDeploy never routes.
    OutMidShift,
    /// The copy scales out during the termination wait.
    OutDuringWait,
    /// The copy scales to zero and back after success.
    ZeroAndBack,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    OnTime,
    Lost,
    /// One step late; what is still held arrives at the end.
    Late,
    /// On time, and all of it again at the end.
    Replayed,
    /// On time, as an SNS trigger and as an EventBridge event.
    Both,
}

#[derive(Debug, Clone, Copy)]
struct Story {
    config: &'static str,
    termination: &'static str,
    failure: Failure,
    scale: Scale,
    delivery: Delivery,
    /// The channel of single deliveries.
    eventbridge: bool,
    ready_wait: bool,
    /// The deployment was created two days before the story: older than the look-back.
    old: bool,
    /// After its success, a newer deployment of the deployment group runs to its end.
    next: bool,
}

/// splitmix64: a seeded, deterministic choice without a dependency.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The stories: each dimension's values in turn (so every value is walked), the combinations
/// drawn from the seed.
fn stories(seed: u64) -> Vec<Story> {
    // No failure comes twice as often as each kind of failure: a story that succeeds may go on
    // with a newer deployment.
    let failures = [
        Failure::Nowhere,
        Failure::MidReroute { rollback: true },
        Failure::MidReroute { rollback: false },
        Failure::Nowhere,
        Failure::AfterShift,
        Failure::AlarmDuringWait { rollback: true },
        Failure::AlarmDuringWait { rollback: false },
    ];
    let scales = [
        Scale::None,
        Scale::OutMidShift,
        Scale::OutDuringWait,
        Scale::ZeroAndBack,
    ];
    let deliveries = [
        Delivery::OnTime,
        Delivery::Lost,
        Delivery::Late,
        Delivery::Replayed,
        Delivery::Both,
    ];
    let mut rng = Seeded(seed);
    // Each dimension turns at its own pace from a seeded start, so that every value is walked
    // and the combinations change with the seed (the test asserts the ones it needs).
    let (c, f, s, t) = (
        rng.next() as usize,
        rng.next() as usize,
        rng.next() as usize,
        rng.next() as usize,
    );
    (0..STORIES)
        .map(|i| Story {
            config: CONFIGS[(i + c) % CONFIGS.len()],
            termination: ["TERMINATE", "KEEP_ALIVE"][(i / 3 + i / 6 + t) % 2],
            failure: failures[(i + f) % failures.len()],
            scale: scales[(i / 2 + s) % scales.len()],
            delivery: deliveries[i % deliveries.len()],
            eventbridge: rng.next().is_multiple_of(2),
            ready_wait: rng.next().is_multiple_of(4),
            old: i % 3 == 0,
            next: i % 2 == 1,
        })
        .collect()
}

/// One story's walk: the emulator, what is held back, and what the story has seen so far.
struct Walk {
    emulator: Emulator,
    story: Story,
    deployment_id: String,
    held: Vec<Value>,
    step: String,
    /// The copy launched an instance CodeDeploy never routes.
    stray: bool,
    /// The termination wait has begun (TERMINATE) or the deployment succeeded.
    settled: bool,
    failed: bool,
    rerouting_complete: bool,
    /// Walking the story's own deployment (not the newer one after it): its failure applies.
    first: bool,
    calls: usize,
}

impl Walk {
    fn fail(&self, what: &str) -> ! {
        panic!(
            "walk failed (seed {SEED:#x}): {what}\n  story: {:?}\n  step: {}\n  deployment: {}",
            self.story, self.step, self.deployment_id
        )
    }

    /// Runs relink once and checks the invariants; `linking` says whether this call must leave
    /// the serving fleet linked (I3, I4).
    fn relink(&mut self, args: &[&str], linking: bool) {
        let before = self.emulator.call(json!({"op": "walk_snapshot"}));
        let run = self.emulator.relink(args, &[]);
        self.calls += 1;
        if !run.success() {
            self.fail(&format!(
                "relink {args:?} failed: {}{}",
                run.stdout(),
                run.stderr()
            ));
        }
        let expect_linked = linking && self.may_link();
        let problems = self
            .emulator
            .call(json!({"op": "walk_check", "before": before, "expect_linked": expect_linked}));
        if problems.as_array().is_some_and(|p| !p.is_empty()) {
            self.fail(&format!("after relink {args:?}: {problems}"));
        }
    }

    /// Whether the rule lets relink link the serving copy now: rerouting is complete and every
    /// instance of the copy was routed, or the shift is over by CodeDeploy's own signal.
    fn may_link(&self) -> bool {
        !self.failed && self.rerouting_complete && (!self.stray || self.settled)
    }

    /// Delivers one notification in the story's channel(s).
    fn deliver(&mut self, notification: &Value, both: bool) {
        let forms: &[&str] = match (both, self.story.eventbridge) {
            (true, _) => &["sns", "eventbridge"],
            (false, true) => &["eventbridge"],
            (false, false) => &["sns"],
        };
        // A notification of the story's own deployment leads relink to its copy.
        let own = notification["what"]
            .as_str()
            .is_some_and(|w| w.starts_with(&self.deployment_id));
        for form in forms {
            let file = event_file(&notification[*form]);
            let path = file.path().to_str().unwrap().to_owned();
            self.relink(&["--json", "replay", &path], own);
        }
    }

    /// A step's notifications, as the story's delivery has them arrive.
    fn arrive(&mut self, notifications: &[Value]) {
        match self.story.delivery {
            Delivery::Lost => {}
            Delivery::OnTime | Delivery::Replayed | Delivery::Both => {
                let both = self.story.delivery == Delivery::Both;
                for n in notifications {
                    self.deliver(n, both);
                }
                if self.story.delivery == Delivery::Replayed {
                    self.held.extend(notifications.iter().cloned());
                }
            }
            Delivery::Late => {
                let late = std::mem::replace(&mut self.held, notifications.to_vec());
                for n in &late {
                    self.deliver(n, false);
                }
            }
        }
    }

    fn sweep_and_audit(&mut self) {
        self.relink(&["--json", "sweep"], true);
        self.relink(&["--json", "audit", "--fix", "--yes"], true);
    }

    /// Applies one answer of the model (a step, a failure, a scale event).
    fn took(&mut self, answer: &Value) {
        self.step = answer["step"].as_str().unwrap_or_default().to_owned();
        let state = &answer["state"];
        self.failed = state["failed"] == true;
        self.rerouting_complete = state["rerouting_complete"] == true;
        let waiting = self.step == "wait" && self.story.termination == "TERMINATE";
        self.settled |= waiting || state["succeeded"] == true;
        let notifications = answer["notifications"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        self.arrive(&notifications);
    }

    fn event(&mut self, command: Value) {
        let answer = self.emulator.call(command);
        self.took(&answer);
    }

    fn walk(mut self) -> usize {
        self.walk_deployment();
        if self.story.next {
            // A newer deployment of the same deployment group, walked the same way (its
            // notifications delivered as the story's are, a sweep and an audit at its block and
            // success): the story's copy, if it is the fleet, is its original, retired by it
            // with KEEP_ALIVE; after a failure it copies the fleet the failure left named.
            let next = self.emulator.call(json!({"op": "story_next", "spec": {
                "config": self.story.config, "capacity": 4}}));
            self.deployment_id = next["deployment_id"].as_str().unwrap().to_owned();
            self.stray = false;
            self.settled = false;
            self.failed = false;
            self.rerouting_complete = false;
            self.first = false;
            self.walk_deployment();
        }
        // What is still held arrives at the end; then the safety net runs once more.
        let held = std::mem::take(&mut self.held);
        for n in &held {
            self.deliver(n, false);
        }
        self.sweep_and_audit();
        self.calls
    }

    /// One deployment, step by step, with the story's failure and scale events.
    fn walk_deployment(&mut self) {
        while let Some(step) = self.next_step() {
            let answer = self.emulator.call(json!({"op": "walk_step"}));
            self.took(&answer);
            if step == "reroute" {
                self.mid_shift();
                if self.failed {
                    break;
                }
            }
            if self.step == "block" || self.step == "succeed" {
                self.sweep_and_audit();
            }
            if self.step == "wait" {
                self.during_wait();
                if self.failed {
                    break;
                }
            }
        }
        if self.story.scale == Scale::ZeroAndBack && !self.failed {
            self.event(json!({"op": "walk_scale", "group": "copy", "change": "replace"}));
            self.sweep_and_audit(); // I4
        }
    }

    fn next_step(&mut self) -> Option<String> {
        if self.failed {
            return None;
        }
        let state = self.emulator.call(json!({"op": "walk_state"}));
        state["next_step"].as_str().map(str::to_owned)
    }

    /// Between reroute batches: the sweep and the audit, a scale-out, a failure.
    fn mid_shift(&mut self) {
        if !self.mid_shift_done() {
            return;
        }
        self.sweep_and_audit();
        if self.story.scale == Scale::OutMidShift {
            self.stray = true;
            self.event(json!({"op": "walk_scale", "group": "copy", "change": "out"}));
        }
        if let (Failure::MidReroute { rollback }, true) = (self.story.failure, self.first) {
            self.event(json!({"op": "walk_fail", "rollback": rollback}));
        }
    }

    /// Whether this is the first reroute batch (the model counts what it routed).
    fn mid_shift_done(&mut self) -> bool {
        let state = self.emulator.call(json!({"op": "walk_state"}));
        let routed = state["routed"].as_array().map_or(0, Vec::len);
        let capacity = 4;
        let first = match self.story.config {
            c if c.ends_with("OneAtATime") => 1,
            c if c.ends_with("HalfAtATime") => capacity / 2,
            _ => capacity,
        };
        routed == first
    }

    /// The termination wait: the sweep and the audit (with TERMINATE the wait ends CodeDeploy's
    /// rerouting, so a copy that scaled out mid-shift is linked now), a scale-out, a failure or
    /// an alarm's stop.
    fn during_wait(&mut self) {
        self.sweep_and_audit();
        if self.story.scale == Scale::OutDuringWait {
            self.event(json!({"op": "walk_scale", "group": "copy", "change": "out"}));
        }
        match self.story.failure {
            _ if !self.first => {}
            Failure::AfterShift => {
                self.event(json!({"op": "walk_fail", "rollback": true}));
            }
            Failure::AlarmDuringWait { rollback } => {
                self.event(json!({"op": "walk_fail", "rollback": rollback, "status": "Stopped"}));
            }
            _ => {}
        }
    }
}

fn walk_one(story: Story) -> usize {
    let mut emulator = Emulator::start();
    let mut spec = json!({
        "config": story.config, "termination": story.termination, "capacity": 4,
        "ready_wait": story.ready_wait,
    });
    if story.old {
        spec["created_hours_ago"] = json!(48);
    }
    let state = emulator.call(json!({"op": "story", "spec": spec}));
    Walk {
        emulator,
        story,
        deployment_id: state["deployment_id"].as_str().unwrap().to_owned(),
        held: Vec::new(),
        step: "start".into(),
        stray: false,
        settled: false,
        failed: false,
        rerouting_complete: false,
        first: true,
        calls: 0,
    }
    .walk()
}

#[test]
fn the_rule_holds_at_every_step_of_codedeploys_lifecycle() {
    let stories = stories(SEED);
    // Every value of every dimension is walked.
    for config in CONFIGS {
        assert!(stories.iter().any(|s| s.config == config), "{config}");
    }
    for termination in ["TERMINATE", "KEEP_ALIVE"] {
        assert!(stories.iter().any(|s| s.termination == termination));
    }
    assert!(stories.iter().any(|s| s.eventbridge) && stories.iter().any(|s| !s.eventbridge));
    // The termination wait ends the reroute of a copy that scaled out mid-shift.
    assert!(stories
        .iter()
        .any(|s| s.termination == "TERMINATE" && s.scale == Scale::OutMidShift));
    // A fleet older than the look-back, scaled to zero and back (I4); a newer deployment after
    // a KEEP_ALIVE one (I5); an alarm's stop with and without rollback.
    assert!(stories
        .iter()
        .any(|s| s.old && s.scale == Scale::ZeroAndBack));
    for old in [true, false] {
        assert!(stories.iter().any(|s| s.next
            && s.old == old
            && s.termination == "KEEP_ALIVE"
            && s.failure == Failure::Nowhere));
    }
    for rollback in [true, false] {
        assert!(stories
            .iter()
            .any(|s| s.failure == Failure::AlarmDuringWait { rollback }));
    }
    let lanes: Vec<Vec<Story>> = (0..LANES)
        .map(|lane| stories.iter().skip(lane).step_by(LANES).copied().collect())
        .collect();
    let calls: usize = std::thread::scope(|scope| {
        let walkers: Vec<_> = lanes
            .into_iter()
            .map(|lane| scope.spawn(move || lane.into_iter().map(walk_one).sum::<usize>()))
            .collect();
        walkers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .sum()
    });
    assert!(calls >= STORIES * 8, "{calls} calls to relink");
}
