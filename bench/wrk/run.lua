-- POST the seed request as multipart, exactly like
--   curl -F message=... -F stream=$STREAM   (STREAM: "false" by default)
local stream = os.getenv("STREAM") or "false"
local boundary = "agentosbenchboundary"
wrk.method = "POST"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
wrk.body = "--" .. boundary .. "\r\n" ..
  "Content-Disposition: form-data; name=\"message\"\r\n\r\n" ..
  "Explain the benefits of exercise\r\n" ..
  "--" .. boundary .. "\r\n" ..
  "Content-Disposition: form-data; name=\"stream\"\r\n\r\n" ..
  stream .. "\r\n" ..
  "--" .. boundary .. "--\r\n"
