service "gateway" {
  policy = "write"
}
