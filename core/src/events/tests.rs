use super::model::ModelEvents;
use super::*;
use proptest::prelude::*;

#[cfg_attr(
    not(feature = "planted-bugs"),
    allow(clippy::needless_update, reason = "the planted bug is a field only with the feature")
)]
fn small_config() -> EventsConfig {
    EventsConfig {
        events_per_key_max: 3,
        events_max: 9,
        bytes_max: 40,
        keys_max: 4,
        payload_bytes_max: 8,
        name_bytes_max: 4,
        results_max: 5,
        ..EventsConfig::default()
    }
}

fn key() -> impl Strategy<Value = EventKey> {
    (prop_oneof![Just("n1"), Just("n2")], prop_oneof![Just("a"), Just("b")], 0u64..3)
        .prop_map(|(node, signal, epoch)| EventKey { node: node.into(), signal: signal.into(), epoch })
}

fn range() -> impl Strategy<Value = EventRange> {
    (
        key(),
        key(),
        proptest::option::of(0u64..30),
        proptest::option::of(0u64..30),
        proptest::option::of((key(), 0u64..30)),
        0u32..7,
    )
        .prop_map(|(from, to, after, until, resume, limit)| EventRange {
            from,
            to,
            after: after.map(EventId),
            until: until.map(EventId),
            resume: resume.map(|(key, id)| (key, EventId(id))),
            limit,
        })
}

fn op() -> impl Strategy<Value = EventsOp> {
    prop_oneof![
        5 => (key(), proptest::collection::vec(any::<u8>(), 0..9)).prop_map(|(key, payload)| EventsOp::Append { key, payload }),
        1 => (key(), 0u64..30).prop_map(|(key, before)| EventsOp::Trim { key, before: EventId(before) }),
        2 => range().prop_map(|range| EventsOp::Read(EventsQuery::Range(range))),
        1 => Just(EventsOp::Read(EventsQuery::Stats)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any commands give the model's results; a snapshot reads back to an equal store that goes
    /// on as the original; ids rise within every key.
    #[test]
    fn the_event_store_follows_the_brute_force_model(ops in proptest::collection::vec(op(), 0..80), snapshot_at in 0usize..80) {
        let config = small_config();
        let mut store = Events::new(config);
        let mut model = ModelEvents::default();
        let mut restored: Option<Events> = None;
        for (index, op) in ops.iter().enumerate() {
            if store.validate(op).is_err() {
                continue;
            }
            let expected = model.apply(&config, op);
            prop_assert_eq!(store.apply(op), expected.clone(), "op {} {:?}", index, op);
            if index == snapshot_at {
                let mut copy = Events::new(config);
                copy.restore(&store.snapshot()).unwrap();
                prop_assert_eq!(&copy, &store);
                restored = Some(copy);
            } else if let Some(copy) = restored.as_mut() {
                prop_assert_eq!(copy.apply(op), expected);
            }
        }
        for log in store.keys.values() {
            prop_assert!(log.events.iter().zip(log.events.iter().skip(1)).all(|(a, b)| a.0 < b.0));
        }
        prop_assert_eq!(store.stats(), match model.read(&config, &EventsQuery::Stats) {
            EventsAnswer::Stats(stats) => stats,
            other => panic!("{other:?}"),
        });
    }

    /// Damaged images are refused or read back to a store that keeps its promises; never a panic.
    #[test]
    fn damaged_snapshots_are_refused_or_consistent(
        ops in proptest::collection::vec(op(), 0..40),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut store = Events::new(small_config());
        for op in &ops {
            if store.validate(op).is_ok() {
                store.apply(op);
            }
        }
        let mut damaged = store.snapshot();
        for (at, byte) in flips {
            let at = at.index(damaged.len());
            damaged[at] ^= byte;
        }
        let mut copy = Events::new(small_config());
        if copy.restore(&damaged).is_ok() {
            for log in copy.keys.values() {
                prop_assert!(!log.events.is_empty());
                prop_assert!(log.events.iter().all(|(id, _)| *id < copy.next_id));
            }
        }
    }
}

#[test]
fn retention_drops_the_oldest_of_a_full_key_and_limits_refuse_the_rest() {
    let mut store = Events::new(small_config());
    let key = EventKey { node: "n".into(), signal: "s".into(), epoch: 0 };
    let append =
        |store: &mut Events, bytes: usize| store.apply(&EventsOp::Append { key: key.clone(), payload: vec![1; bytes] });
    for id in 1..=3 {
        assert_eq!(append(&mut store, 1), EventsResult::Appended { id: EventId(id), retired: 0 });
    }
    assert_eq!(append(&mut store, 1), EventsResult::Appended { id: EventId(4), retired: 1 });
    let all = EventRange { from: key.clone(), to: key.clone(), after: None, until: None, resume: None, limit: 5 };
    let EventsAnswer::Range { events, resume } = store.read(&EventsQuery::Range(all)) else { panic!() };
    assert_eq!(events.iter().map(|event| event.id.0).collect::<Vec<_>>(), vec![2, 3, 4]);
    assert_eq!(resume, None);
    let error = store.validate(&EventsOp::Append { key: key.clone(), payload: vec![0; 9] }).unwrap_err();
    assert_eq!(error.to_string(), "value too large: 9 bytes, limit 8");
    for epoch in 1..4 {
        let other = EventKey { epoch, ..key.clone() };
        store.apply(&EventsOp::Append { key: other, payload: vec![] });
    }
    let fifth = EventKey { epoch: 9, ..key.clone() };
    assert_eq!(
        store.apply(&EventsOp::Append { key: fifth, payload: vec![] }),
        EventsResult::Error(EventsError::KeysFull(4))
    );
}
