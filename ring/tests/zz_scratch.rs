use kvorum_ring::{Layout, NodeId};
#[test]
fn scratch() {
    for bits in [0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11] {
        for k in 1..=40usize { if k > 24 && bits > 8 { continue; }
            for width in 1u8..=8 {
                let nodes: Vec<NodeId> = (0..k as u64).map(|i| NodeId(1 + 7 * i)).collect();
                let layout = Layout::initial(&nodes, bits, width).unwrap();
                let q = 1usize << bits;
                for n in 1..=layout.width() as usize {
                    let (f, c) = ((q * n) / k, (q * n).div_ceil(k));
                    let own = layout.ownership(n);
                    if own.iter().any(|&(_, x)| x < f || x > c) {
                        println!("bits {bits} k {k} width {width} n {n}: {:?}", own.iter().map(|x| x.1).collect::<Vec<_>>());
                        break;
                    }
                }
            }
        }
    }
}
