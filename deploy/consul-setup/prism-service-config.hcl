service "config" {
  policy = "write"
}
