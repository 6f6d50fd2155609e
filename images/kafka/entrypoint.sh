#!/bin/bash
# Starts a KRaft Kafka node configured from the environment, with the contract of the official apache/kafka
# image: every KAFKA_<NAME> variable becomes the server property <name> (lower case, "_" → ".", "__" → "_",
# "___" → "-"), except the launcher's own variables (KAFKA_HEAP_OPTS, KAFKA_OPTS, KAFKA_JVM_PERFORMANCE_OPTS,
# KAFKA_LOG4J_OPTS, KAFKA_JMX_OPTS, KAFKA_GC_LOG_OPTS, KAFKA_VERSION). Without any, it is a single node acting as
# broker and controller on 9092 (controller 9093), advertising localhost:9092. CLUSTER_ID names the cluster when
# the log directory is formatted (once: a volume keeps it).
set -euo pipefail

props=/opt/kafka/config/server.properties
declare -A conf=(
	[node.id]=1
	[process.roles]=broker,controller
	[listeners]=PLAINTEXT://:9092,CONTROLLER://:9093
	[advertised.listeners]=PLAINTEXT://localhost:9092
	[controller.listener.names]=CONTROLLER
	[listener.security.protocol.map]=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
	[controller.quorum.voters]=1@localhost:9093
	[log.dirs]=/var/lib/kafka/data
	[offsets.topic.replication.factor]=1
	[transaction.state.log.replication.factor]=1
	[transaction.state.log.min.isr]=1
	[share.coordinator.state.topic.replication.factor]=1
	[share.coordinator.state.topic.min.isr]=1
	[group.initial.rebalance.delay.ms]=0
)

while IFS= read -r -d '' entry; do
	name="${entry%%=*}"
	value="${entry#*=}"
	case "$name" in
	KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_LOG4J_OPTS | KAFKA_JMX_OPTS | KAFKA_GC_LOG_OPTS | KAFKA_VERSION) continue ;;
	KAFKA_*) ;;
	*) continue ;;
	esac
	key="${name#KAFKA_}"
	key="${key,,}"
	key="${key//___/-}"
	key="${key//__/$'\x01'}"
	key="${key//_/.}"
	key="${key//$'\x01'/_}"
	conf[$key]="$value"
done < <(env -0)

: >"$props"
for key in $(printf '%s\n' "${!conf[@]}" | sort); do
	printf '%s=%s\n' "$key" "${conf[$key]}" >>"$props"
done

cp="/opt/kafka/libs/*"
log4j="${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=/opt/kafka/log4j2.properties}"
# shellcheck disable=SC2206 # the *_OPTS variables are word lists, as in kafka-run-class.sh
heap=(${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G})
# shellcheck disable=SC2206
perf=(${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true})
# shellcheck disable=SC2206
opts=(${KAFKA_OPTS:-})

logdir="${conf[log.dirs]%%,*}"
if [[ ! -f "$logdir/meta.properties" ]]; then
	# a random cluster id (16 bytes, URL-safe base64, as kafka-storage random-uuid prints) without a second JVM
	id="${CLUSTER_ID:-$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')}"
	java "$log4j" -cp "$cp" kafka.tools.StorageTool format --ignore-formatted -t "$id" -c "$props"
fi

exec java "${heap[@]}" "${perf[@]}" "$log4j" "${opts[@]}" -cp "$cp" kafka.Kafka "$props"
