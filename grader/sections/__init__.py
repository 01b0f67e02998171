"""The graded sections: their kinds (what a box runs for each), the judge of what came back, the hints."""
