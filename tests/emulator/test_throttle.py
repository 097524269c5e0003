"""The throttling emulator's buckets: AWS's figures, per account, region and budget."""

from __future__ import annotations

import unittest

import throttle


class BucketsTest(unittest.TestCase):
    def test_elb_reads_of_each_api_have_a_bucket_of_40_refilled_at_10_per_second(self) -> None:
        budgets = throttle.Budgets(throttle.parse("on"))
        v2 = [budgets.allow("1", "us-east-1", "elasticloadbalancing", "DescribeTargetHealth", "2015-12-01")
              for _ in range(50)]
        classic = [budgets.allow("1", "us-east-1", "elasticloadbalancing", "DescribeInstanceHealth",
                                 throttle.CLASSIC_API_VERSION) for _ in range(50)]
        self.assertEqual((sum(v2), sum(classic)), (40, 40))
        # Another region, another bucket; a mutating action, another bucket.
        self.assertTrue(budgets.allow("1", "eu-west-1", "elasticloadbalancing", "DescribeTargetHealth", None))
        self.assertTrue(budgets.allow("1", "us-east-1", "elasticloadbalancing", "RegisterTargets", None))
        self.assertEqual(budgets.snapshot()["elbv2 throttled"], 10)

    def test_a_bucket_refills_at_its_rate(self) -> None:
        bucket = throttle.Bucket(capacity=2, rate=10, tokens=0, at=0.0)
        self.assertFalse(bucket.take(0.05))  # half a token
        self.assertTrue(bucket.take(0.1))
        self.assertTrue(bucket.take(10.0))  # full again, never above capacity
        self.assertTrue(bucket.take(10.0))
        self.assertFalse(bucket.take(10.0))

    def test_off_counts_and_throttles_nothing_and_specs_change_figures(self) -> None:
        budgets = throttle.Budgets(None)
        self.assertTrue(all(budgets.allow("1", "r", "codedeploy", "GetDeployment", None) for _ in range(100)))
        self.assertEqual(budgets.snapshot(), {"codedeploy": 100})
        self.assertEqual(throttle.parse("codedeploy=10/2")["codedeploy"], (10.0, 2.0))
        with self.assertRaises(ValueError):
            throttle.parse("cloudwatch=1/1")

    def test_beyond_counts_the_requests_a_smaller_share_would_have_refused(self) -> None:
        budgets = throttle.Budgets(None)
        budgets.times["elbv2"] = [0.0, 0.0, 0.0, 0.5, 1.0, 3.0]
        self.assertEqual(budgets.beyond("elbv2", capacity=3, rate=1), 1)  # the one at 0.5 s
        self.assertEqual(budgets.beyond("elbv2", capacity=4, rate=1), 0)
        self.assertEqual(budgets.beyond("elb", capacity=1, rate=1), 0)  # no request at all


if __name__ == "__main__":
    unittest.main()
