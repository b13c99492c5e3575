//! Optimal one-to-one pairing of two sets under a cost, with gates.
//!
//! Both the tracker (tracks × detections) and the evaluator (truth passages ×
//! found passages) need the same thing: as many pairs as the gates allow, and
//! among those the least total cost. Greedy "best pair first" pairing fails
//! exactly where it matters — two people side by side, whose costs are all
//! close — so the pairing is solved exactly with Kuhn–Munkres (the
//! `pathfinding` crate) on an integer cost matrix.
//!
//! Each row gets a private "unpaired" column. Scoring wants as many pairs as
//! the gates allow ([`Unpaired::Never`]: leaving a row unpaired costs more
//! than every real pair together). Tracking wants the cheapest explanation of
//! the frame ([`Unpaired::Costs`]): a track that missed its detection must not
//! take a stranger's so that a neighbour can take its own — one good pair is
//! better than two poor ones.

use pathfinding::kuhn_munkres::kuhn_munkres_min;
use pathfinding::matrix::Matrix;

/// Integer steps per unit of cost.
const SCALE: i64 = 1_000_000;

/// What leaving a row unpaired costs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unpaired {
    /// More than any pairs could save: as many pairs as possible, then the
    /// least total cost.
    Never,
    /// This much (0..=1): the least total cost, pairs and unpaired rows alike.
    Costs(f32),
}

/// Pairs rows with columns. `cost(r, c)` is `None` where the pair is not
/// allowed, else a cost in `0..=1` (clamped). Returns the pairs, sorted by row.
pub fn assign(
    rows: usize,
    cols: usize,
    cost: impl Fn(usize, usize) -> Option<f32>,
    unpaired: Unpaired,
) -> Vec<(usize, usize)> {
    if rows == 0 || cols == 0 {
        return Vec::new();
    }
    let unpaired = match unpaired {
        Unpaired::Never => (rows as i64 + 1) * SCALE + 1,
        Unpaired::Costs(u) => (u.clamp(0.0, 1.0) as f64 * SCALE as f64).round() as i64,
    };
    let forbidden = ((rows as i64 + 1) * SCALE + 1) * (rows as i64 + 1);
    let mut allowed = vec![None; rows * cols];
    let mut any = false;
    for r in 0..rows {
        for c in 0..cols {
            if let Some(x) = cost(r, c).filter(|x| !x.is_nan()) {
                allowed[r * cols + c] = Some((x.clamp(0.0, 1.0) as f64 * SCALE as f64).round() as i64);
                any = true;
            }
        }
    }
    if !any {
        return Vec::new();
    }
    let width = cols + rows;
    let mut data = Vec::with_capacity(rows * width);
    for r in 0..rows {
        data.extend((0..cols).map(|c| allowed[r * cols + c].unwrap_or(forbidden)));
        data.extend((0..rows).map(|d| if d == r { unpaired } else { forbidden }));
    }
    let Ok(matrix) = Matrix::from_vec(rows, width, data) else { return Vec::new() };
    let (_, columns) = kuhn_munkres_min(&matrix);
    columns.into_iter().enumerate().filter(|&(r, c)| c < cols && allowed[r * cols + c].is_some()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_total_cost_wins_over_the_best_single_pair() {
        // Greedy would take (0,0) at 0.1 and leave row 1 with (1,1) at 0.9: total 1.0.
        // The optimum is (0,1) + (1,0): 0.2 + 0.2.
        let c = [[0.1, 0.2], [0.2, 0.9]];
        assert_eq!(assign(2, 2, |r, k| Some(c[r][k]), Unpaired::Never), vec![(0, 1), (1, 0)]);
    }

    #[test]
    fn as_many_pairs_as_the_gates_allow_come_first() {
        // Row 0 could take column 0 cheaply, but then row 1 (only allowed column 0) is left out.
        let c = [[Some(0.0), Some(0.9)], [Some(0.5), None]];
        assert_eq!(assign(2, 2, |r, k| c[r][k], Unpaired::Never), vec![(0, 1), (1, 0)]);
    }

    #[test]
    fn with_a_price_on_unpaired_rows_one_good_pair_beats_two_poor_ones() {
        // Track 0's own face is detection 0 (cost 0.1); track 1 missed its
        // face, but detection 0 is just inside its gate (0.6), and a stranger
        // (detection 1) just inside track 0's (0.5).
        let c = [[Some(0.1), Some(0.5)], [Some(0.6), None]];
        assert_eq!(assign(2, 2, |r, k| c[r][k], Unpaired::Costs(0.9)), vec![(0, 0)]);
        assert_eq!(assign(2, 2, |r, k| c[r][k], Unpaired::Never), vec![(0, 1), (1, 0)], "most pairs first");
    }

    #[test]
    fn forbidden_pairs_are_never_made() {
        assert!(assign(2, 3, |_, _| None, Unpaired::Never).is_empty());
        let got = assign(3, 1, |r, _| (r == 2).then_some(0.7), Unpaired::Never);
        assert_eq!(got, vec![(2, 0)]);
    }

    #[test]
    fn more_rows_than_columns_and_empty_sets() {
        let got = assign(3, 2, |r, k| Some(((r as f32) - (k as f32)).abs() / 3.0), Unpaired::Never);
        assert_eq!(got, vec![(0, 0), (1, 1)]);
        assert!(assign(0, 4, |_, _| Some(0.0), Unpaired::Never).is_empty());
        assert!(assign(4, 0, |_, _| Some(0.0), Unpaired::Never).is_empty());
    }
}
