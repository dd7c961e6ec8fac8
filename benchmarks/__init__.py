"""Side-by-side benchmarks of modelplane's model server against peer servers (make bench)."""
