-- A chat completion request straight to the mock, to measure the mock alone.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"gpt-5.2","messages":[{"role":"user","content":"hi"}],"stream":false}'
