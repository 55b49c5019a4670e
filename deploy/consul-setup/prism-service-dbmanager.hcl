service "dbmanager" {
  policy = "write"
}
