"""tools/delivery.py: the production gate against a real git history and moto's CloudFormation,
and the staging sweep check against answers of the real function's shape."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import boto3
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import delivery  # noqa: E402
import release  # noqa: E402

TEMPLATE = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


class Forward(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.repo = Path(self.dir.name)
        git(self.repo, "init", "-q", "-b", "main")
        git(self.repo, "config", "user.email", "ci@example.com")
        git(self.repo, "config", "user.name", "ci")
        self.commits = []
        for i in range(3):
            git(self.repo, "commit", "-q", "--allow-empty", "-m", f"c{i}")
            self.commits.append(git(self.repo, "rev-parse", "HEAD"))
        git(self.repo, "checkout", "-q", "-b", "side", self.commits[0])
        git(self.repo, "commit", "-q", "--allow-empty", "-m", "side")
        self.side = git(self.repo, "rev-parse", "HEAD")

    def tearDown(self) -> None:
        self.dir.cleanup()

    def check(self, deployed: str | None, commit: str) -> tuple[bool, str]:
        with mock_aws():
            cloudformation = boto3.client("cloudformation", region_name="us-east-1")
            if deployed is not None:
                tags = [{"Key": delivery.COMMIT_TAG, "Value": deployed}] if deployed else []
                cloudformation.create_stack(StackName="relink", TemplateBody=TEMPLATE, Tags=tags)
            return delivery.forward("relink", commit, cloudformation, self.repo)

    def test_a_newer_commit_goes(self) -> None:
        allowed, message = self.check(self.commits[0], self.commits[2])
        self.assertTrue(allowed, message)
        self.assertIn("descends from", message)

    def test_the_same_commit_again_goes(self) -> None:
        allowed, message = self.check(self.commits[1], self.commits[1])
        self.assertTrue(allowed, message)
        self.assertIn("re-run", message)

    def test_an_older_commit_is_refused_with_a_clear_message(self) -> None:
        allowed, message = self.check(self.commits[2], self.commits[1])
        self.assertFalse(allowed)
        self.assertIn(f"runs {self.commits[2]}", message)
        self.assertIn("roll production back", message)

    def test_a_commit_off_the_deployed_line_is_refused(self) -> None:
        allowed, _ = self.check(self.commits[1], self.side)
        self.assertFalse(allowed)

    def test_an_unknown_deployed_commit_is_refused(self) -> None:
        allowed, _ = self.check("0" * 40, self.commits[2])
        self.assertFalse(allowed)

    def test_a_first_deploy_or_an_untagged_stack_goes(self) -> None:
        for deployed in (None, ""):
            allowed, message = self.check(deployed, self.commits[0])
            self.assertTrue(allowed, message)
            self.assertIn("no codedeploy-relink:commit tag", message)


def answer(*reports: dict) -> dict:
    return {"reports": list(reports), "summary": {"deployments_seen": len(reports), "planned": 1, "failed": 0}}


def report(outcome: str, **extra) -> dict:
    return {"source": "sweep", "deployment_id": "d-1", "outcome": outcome, "dry_run": True,
            "target_groups": {"attached": [], "missing": []}, "load_balancers": {"attached": []}, **extra}


class SweepReport(unittest.TestCase):
    def test_a_dry_run_sweep_that_planned_and_skipped_passes(self) -> None:
        self.assertEqual(delivery.sweep_report(answer(report("planned"), report("skipped"))), [])
        self.assertEqual(delivery.sweep_report(answer()), [], "a quiet region")

    def test_failures_attaches_and_live_runs_are_named(self) -> None:
        problems = delivery.sweep_report(answer(
            report("failed", detail="ListDeployments for the region failed: AccessDenied"),
            report("relinked", target_groups={"attached": ["arn:tg"]}),
            report("planned", dry_run=False),
        ))
        self.assertEqual(len(problems), 3, problems)
        self.assertIn("AccessDenied", problems[0])
        self.assertTrue(any("DryRun=true" in p for p in problems))

    def test_anything_but_a_sweep_answer_is_refused(self) -> None:
        problems = delivery.sweep_report({"reports": [report("skipped", reason="trigger_test_message")]})
        self.assertEqual(len(problems), 1)
        self.assertIn("not a sweep", problems[0])


class StackName(unittest.TestCase):
    def test_each_environment_of_the_projects_samconfig_names_its_stack(self) -> None:
        samconfig = ROOT / "samconfig.toml"
        staging = delivery.stack_name("staging", samconfig)
        production = delivery.stack_name("production", samconfig)
        self.assertTrue(staging and production)
        self.assertNotEqual(staging, production)

    def test_an_environment_without_a_stack_takes_the_default_or_is_refused(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            samconfig = Path(tmp) / "samconfig.toml"
            samconfig.write_text('[default.global.parameters]\nstack_name = "relink"\n')
            self.assertEqual(delivery.stack_name("staging", samconfig), "relink")
            samconfig.write_text('[staging.deploy.parameters]\nregion = "us-east-1"\n')
            with self.assertRaisesRegex(SystemExit, "no stack_name for the environment 'staging'"):
                delivery.stack_name("staging", samconfig)


class ReleaseArchive(unittest.TestCase):
    """tools/release.py check's CLI archive, with a stand-in CLI (the static build is too costly
    here; ci.yml's release-rehearsal job runs the real one)."""

    def test_the_archive_is_reproducible_and_holds_the_cli_its_manual_and_completions(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            cli = Path(tmp) / "relink"
            cli.write_bytes(b"\x7fELF stand-in")
            original = (release.OUT, release.cli_of)
            release.OUT = Path(tmp) / "out"
            release.OUT.mkdir()
            release.cli_of = lambda arch, prebuilt: cli
            try:
                # The generator prints what `relink man` prints first: roff set-up, then .TH.
                generator = [sys.executable, "-c", "import sys; print(r'.ie \\n(.g .ds Aq'); print('.TH relink 1 x', sys.argv[1:])"]
                first = release.archive("x86_64", "9.9.9", True, generator, 1_700_000_000)
                again = release.archive("x86_64", "9.9.9", True, generator, 1_700_000_000).read_bytes()
            finally:
                release.OUT, release.cli_of = original
            self.assertEqual(first.read_bytes(), again, "the archive is not reproducible")
            import tarfile

            with tarfile.open(first) as tar:
                members = {m.name: m for m in tar.getmembers()}
                top = "relink-9.9.9-x86_64-linux-musl"
                self.assertEqual(members[f"{top}/relink"].mode, 0o755)
                self.assertEqual({m.uid for m in members.values()}, {0})
                self.assertEqual({m.mtime for m in members.values()}, {1_700_000_000})
                for name in ("README.md", "LICENSE", "relink.1", "completions/relink.bash",
                             "completions/relink.zsh", "completions/relink.fish",
                             "events/sns-deployment-success.json"):
                    self.assertIn(f"{top}/{name}", members)
                manual = tar.extractfile(f"{top}/relink.1").read().decode()
                self.assertTrue(release.is_manual(manual), manual)
                fish = tar.extractfile(f"{top}/completions/relink.fish").read().decode()
                self.assertIn("'completions', 'fish'", fish)
        self.assertFalse(release.is_manual("relink 9.9.9 (commit 0)\n"))

    def test_the_released_version_skips_the_unreleased_section(self) -> None:
        changelog = "# Changelog\n\n## [Unreleased]\n\n- x\n\n## [0.2.0] - 2026-12-01\n\n## [0.1.0]\n"
        self.assertEqual(release.top_release(changelog), "0.2.0")
        self.assertEqual(release.top_release("# Changelog\n\n## [1.0.0]\n"), "1.0.0")
        self.assertIsNone(release.top_release("# Changelog\n\n## [Unreleased]\n"))


if __name__ == "__main__":
    unittest.main()
