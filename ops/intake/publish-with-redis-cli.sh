#!/bin/sh
# Publish one intake request with redis-cli alone, in the exact form the workers read.
#
#   ops/intake/publish-with-redis-cli.sh ACTOR 'PAYLOAD_JSON'
#   e.g. ops/intake/publish-with-redis-cli.sh pause_harvest '{"harvest_id": "h1", "request_id": "ops-17"}'
#
# ACTOR: submit_harvest, pause_harvest, resume_harvest or cancel_harvest. PAYLOAD_JSON: the
# request (ops/intake/<actor>.schema.json). Environment: REDIS_URL (default
# redis://127.0.0.1:6379/0), HARVEST_NAMESPACE (default tiktok-harvest), as the workers have.
# Prints the message id; the answer is then under <namespace>:intake:reply:<request_id> (or
# :<message id> when the payload names no request_id):
#   redis-cli -u "$REDIS_URL" GET "tiktok-harvest:intake:reply:ops-17"
set -eu
[ $# -eq 2 ] || { echo "usage: $0 ACTOR PAYLOAD_JSON" >&2; exit 2; }
actor="$1"
payload="$2"
namespace="${HARVEST_NAMESPACE:-tiktok-harvest}"
id="$(cat /proc/sys/kernel/random/uuid)"
now_ms="$(($(date +%s) * 1000))"
# Dramatiq's envelope (ops/intake/envelope.schema.json); redis_message_id is the id the
# message is stored under, which the workers' acknowledgement removes it by.
message=$(printf '{"queue_name":"intake","actor_name":"%s","args":[%s],"kwargs":{},"options":{"redis_message_id":"%s"},"message_id":"%s","message_timestamp":%s}' \
    "$actor" "$payload" "$id" "$id" "$now_ms")
# Stored and queued in one step, as Dramatiq's own enqueue does.
redis-cli -u "${REDIS_URL:-redis://127.0.0.1:6379/0}" EVAL \
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]); return redis.call('RPUSH', KEYS[2], ARGV[1])" \
    2 "$namespace:intake.msgs" "$namespace:intake" "$id" "$message" >/dev/null
echo "$id"
