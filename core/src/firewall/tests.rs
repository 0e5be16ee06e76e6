use super::*;
use proptest::prelude::*;

const SECOND: u64 = 1_000_000_000;

#[test]
fn denied_sources_never_pass_and_allowed_ones_pass_unlimited_when_the_rate_is_off() {
    let mut firewall: Firewall<u32> = Firewall::new(RateLimit::OFF).unwrap();
    for at in 0..1000 {
        assert_eq!(firewall.check(&1, true, at), Verdict::Pass);
        assert_eq!(firewall.check(&2, false, at), Verdict::DropDenied);
    }
    assert_eq!(firewall.counters(), FirewallCounters { passed: 1000, dropped_denied: 1000, dropped_rate: 0 });
}

#[test]
fn a_burst_passes_then_the_rate_holds() {
    let rate = RateLimit { per_second: 100, burst: 50 };
    let mut firewall: Firewall<u32> = Firewall::new(rate).unwrap();
    let passed = (0..200).filter(|_| firewall.check(&7, true, 0) == Verdict::Pass).count();
    assert_eq!(passed, 50);
    // A second later, 100 more tokens, capped at the burst of 50.
    let passed = (0..200).filter(|_| firewall.check(&7, true, SECOND) == Verdict::Pass).count();
    assert_eq!(passed, 50);
    // 10 ms later, one token.
    let passed = (0..5).filter(|_| firewall.check(&7, true, SECOND + SECOND / 100) == Verdict::Pass).count();
    assert_eq!(passed, 1);
    // Another source has its own bucket.
    assert_eq!(firewall.check(&8, true, SECOND), Verdict::Pass);
}

#[test]
fn the_least_recently_seen_source_is_forgotten_past_the_bound() {
    let rate = RateLimit { per_second: 1, burst: 1 };
    let mut firewall: Firewall<u32> = Firewall::new(rate).unwrap();
    for source in 0..=SOURCES_MAX as u32 {
        assert_eq!(firewall.check(&source, true, u64::from(source)), Verdict::Pass);
    }
    assert_eq!(firewall.sources(), SOURCES_MAX);
    // Source 0 was forgotten: it starts full again; source 1 is still empty.
    assert_eq!(firewall.check(&0, true, SOURCES_MAX as u64 + 1), Verdict::Pass);
    assert_eq!(firewall.check(&2, true, SOURCES_MAX as u64 + 1), Verdict::DropRate);
}

#[test]
fn limits_are_checked() {
    assert!(Firewall::<u32>::new(RateLimit { per_second: RATE_PER_SECOND_MAX + 1, burst: 1 }).is_err());
    assert!(Firewall::<u32>::new(RateLimit { per_second: 1, burst: BURST_MAX + 1 }).is_err());
    assert!(Firewall::<u32>::new(RateLimit { per_second: 1, burst: 0 }).is_err());
}

proptest! {
    /// Over any arrivals, a source passes at most its burst plus what its rate earned since its
    /// first packet, and never fewer than that when it always sent more than it could.
    #[test]
    fn passes_stay_within_the_token_bucket_bound(
        per_second in 1u32..100_000,
        burst in 1u32..1000,
        gaps in proptest::collection::vec(0u64..50_000_000, 1..400),
    ) {
        let rate = RateLimit { per_second, burst };
        let mut firewall: Firewall<u8> = Firewall::new(rate).unwrap();
        let mut now = 1u64;
        let start = now;
        let mut passed = 0u64;
        for gap in gaps {
            now += gap;
            if firewall.check(&0, true, now) == Verdict::Pass {
                passed += 1;
            }
        }
        let earned = u128::from(now - start) * u128::from(per_second) / u128::from(SECOND);
        prop_assert!(u128::from(passed) <= u128::from(burst) + earned + 1);
    }
}
