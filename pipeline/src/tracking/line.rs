//! The counting line of a camera and the direction of a crossing.
//!
//! A line runs from `a` to `b` in normalised image coordinates (x to the right,
//! y downwards, both 0..1). `inside` names the side of the line that is inside
//! the site; a track that crosses towards it is an [`Direction::Entry`], one
//! that crosses away from it an [`Direction::Exit`].

use serde::{Deserialize, Serialize};
use wire::Direction;

/// Which side of the line is inside, as seen in the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Above,
    Below,
    Left,
    Right,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LineError {
    #[error("line point {0:?} is outside the image (coordinates must be within 0..1)")]
    OutOfImage([f32; 2]),
    #[error("line points a and b are the same point")]
    Degenerate,
    #[error(
        "inside = \"{0:?}\" is parallel to the line; use above/below for a horizontal line and left/right for a vertical one"
    )]
    AmbiguousSide(Side),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountingLine {
    pub a: [f32; 2],
    pub b: [f32; 2],
    pub inside: Side,
}

impl CountingLine {
    pub fn validate(&self) -> Result<(), LineError> {
        for p in [self.a, self.b] {
            if !p.iter().all(|c| c.is_finite() && (0.0..=1.0).contains(c)) {
                return Err(LineError::OutOfImage(p));
            }
        }
        let (dx, dy) = (self.b[0] - self.a[0], self.b[1] - self.a[1]);
        if dx.abs() < 1e-6 && dy.abs() < 1e-6 {
            return Err(LineError::Degenerate);
        }
        if self.inside_sign() == 0.0 {
            return Err(LineError::AmbiguousSide(self.inside));
        }
        Ok(())
    }

    /// Signed side of a normalised point: positive on one side, negative on
    /// the other (the cross product of a→b and a→p).
    pub fn side_of(&self, p: [f32; 2]) -> f32 {
        let (dx, dy) = (self.b[0] - self.a[0], self.b[1] - self.a[1]);
        dx * (p[1] - self.a[1]) - dy * (p[0] - self.a[0])
    }

    /// The sign that [`CountingLine::side_of`] has on the inside.
    fn inside_sign(&self) -> f32 {
        let mid = [(self.a[0] + self.b[0]) / 2.0, (self.a[1] + self.b[1]) / 2.0];
        let probe = match self.inside {
            Side::Above => [mid[0], mid[1] - 1.0],
            Side::Below => [mid[0], mid[1] + 1.0],
            Side::Left => [mid[0] - 1.0, mid[1]],
            Side::Right => [mid[0] + 1.0, mid[1]],
        };
        let s = self.side_of(probe);
        if s.abs() < 1e-6 { 0.0 } else { s.signum() }
    }

    /// Signed distance from the line (normalised image units): positive
    /// inside, negative outside.
    pub fn inwardness(&self, p: [f32; 2]) -> f32 {
        let len = ((self.b[0] - self.a[0]).powi(2) + (self.b[1] - self.a[1]).powi(2)).sqrt();
        if len <= f32::EPSILON { 0.0 } else { self.side_of(p) * self.inside_sign() / len }
    }

    /// Where the projection of a normalised point falls along the line:
    /// 0 at `a`, 1 at `b` (clamped).
    pub fn along(&self, p: [f32; 2]) -> f32 {
        let (dx, dy) = (self.b[0] - self.a[0], self.b[1] - self.a[1]);
        let len2 = dx * dx + dy * dy;
        if len2 <= f32::EPSILON {
            return 0.0;
        }
        (((p[0] - self.a[0]) * dx + (p[1] - self.a[1]) * dy) / len2).clamp(0.0, 1.0)
    }

    /// The direction of a move from `from` to `to`, if it crosses the line.
    pub fn crossing(&self, from: [f32; 2], to: [f32; 2]) -> Option<Direction> {
        let (s0, s1) = (self.inwardness(from), self.inwardness(to));
        if s0 < 0.0 && s1 > 0.0 {
            Some(Direction::Entry)
        } else if s0 > 0.0 && s1 < 0.0 {
            Some(Direction::Exit)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn horizontal(inside: Side) -> CountingLine {
        CountingLine { a: [0.0, 0.5], b: [1.0, 0.5], inside }
    }

    #[test]
    fn walking_down_across_a_line_with_inside_below_is_an_entry() {
        let l = horizontal(Side::Below);
        assert_eq!(l.crossing([0.5, 0.3], [0.5, 0.7]), Some(Direction::Entry));
        assert_eq!(l.crossing([0.5, 0.7], [0.5, 0.3]), Some(Direction::Exit));
        assert_eq!(l.crossing([0.5, 0.3], [0.5, 0.4]), None);
    }

    #[test]
    fn reversing_the_line_points_does_not_change_the_meaning() {
        let l = CountingLine { a: [1.0, 0.5], b: [0.0, 0.5], inside: Side::Below };
        assert_eq!(l.crossing([0.5, 0.3], [0.5, 0.7]), Some(Direction::Entry));
    }

    #[test]
    fn inwardness_is_a_signed_distance() {
        let l = CountingLine { a: [0.0, 0.5], b: [0.5, 0.5], inside: Side::Below };
        assert!((l.inwardness([0.2, 0.6]) - 0.1).abs() < 1e-6);
        assert!((l.inwardness([0.2, 0.3]) + 0.2).abs() < 1e-6);
    }

    #[test]
    fn along_measures_from_a_to_b() {
        let l = CountingLine { a: [0.2, 0.1], b: [0.2, 0.9], inside: Side::Right };
        assert!((l.along([0.5, 0.5]) - 0.5).abs() < 1e-6);
        assert!((l.along([0.1, 0.1]) - 0.0).abs() < 1e-6);
        assert_eq!(l.along([0.2, 2.0]), 1.0, "clamped");
    }

    #[test]
    fn vertical_line_with_inside_right() {
        let l = CountingLine { a: [0.5, 0.0], b: [0.5, 1.0], inside: Side::Right };
        assert_eq!(l.crossing([0.2, 0.5], [0.8, 0.5]), Some(Direction::Entry));
        assert_eq!(l.validate(), Ok(()));
    }

    #[test]
    fn invalid_lines_are_rejected_with_the_reason() {
        assert_eq!(
            CountingLine { a: [0.2, 0.2], b: [0.2, 0.2], inside: Side::Left }.validate(),
            Err(LineError::Degenerate)
        );
        assert_eq!(horizontal(Side::Left).validate(), Err(LineError::AmbiguousSide(Side::Left)));
        assert!(matches!(
            CountingLine { a: [1.5, 0.0], ..horizontal(Side::Below) }.validate(),
            Err(LineError::OutOfImage(_))
        ));
    }
}
