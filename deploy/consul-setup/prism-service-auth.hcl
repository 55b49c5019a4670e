service "auth" {
  policy = "write"
}
