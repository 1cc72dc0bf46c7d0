"""Plain data and maths: volumes, geometry in LPS mm, window/level, measurements. numpy only."""
