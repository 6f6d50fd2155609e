// Package kafkaclients drives devstack's broker, as a separate process that it stops and kills, with the
// Kafka clients our users' services use (franz-go, sarama, kafkajs, NestJS, confluent-kafka,
// kafka-python) and checks that acknowledged records and committed offsets survive; and devstack's
// schema registry with the registry clients they use (confluent-kafka's serializers, kafkajs with
// @kafkajs/confluent-schema-registry, franz-go's sr) and checks that every schema and id survives. It
// holds only tests; setup.sh installs the Node and Python clients they need.
package kafkaclients
