package org.ccalab.scheduler.system;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.ccalab.common.run.Topics;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.kafka.annotation.KafkaListener;
import org.springframework.kafka.support.KafkaHeaders;
import org.springframework.stereotype.Component;

/**
 * Stores every record of the dead-letter topics in dead_letter, where the api shows it. The row is keyed
 * on the record's original coordinates (from the recoverer's headers), so a dead letter published or
 * delivered twice is stored once.
 */
@Component
class DeadLetterListener {
    private final JdbcClient jdbc;

    DeadLetterListener(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    @KafkaListener(id = "dead-letters", groupId = "dead-letters", containerFactory = "deadLetterContainerFactory",
            topics = {Topics.RUNS_EVENTS + Topics.DLT_SUFFIX, Topics.WORKERS + Topics.DLT_SUFFIX,
                      Topics.RUNS_REQUESTED + Topics.DLT_SUFFIX, Topics.RUNS_CONTROL + Topics.DLT_SUFFIX})
    void onDeadLetter(ConsumerRecord<String, String> record) {
        String originalTopic = text(record, KafkaHeaders.DLT_ORIGINAL_TOPIC);
        Header partition = record.headers().lastHeader(KafkaHeaders.DLT_ORIGINAL_PARTITION);
        Header offset = record.headers().lastHeader(KafkaHeaders.DLT_ORIGINAL_OFFSET);
        String message = text(record, KafkaHeaders.DLT_EXCEPTION_MESSAGE);
        String cause = text(record, KafkaHeaders.DLT_EXCEPTION_CAUSE_FQCN);
        jdbc.sql("""
                        insert into dead_letter(topic, kafka_partition, kafka_offset, dlt_topic, record_key, record_value,
                                                error, error_class)
                        values (?, ?, ?, ?, ?, ?, ?, ?)
                        on conflict (topic, kafka_partition, kafka_offset) do nothing""")
                .params(originalTopic != null ? originalTopic : record.topic(),
                        partition != null ? ByteBuffer.wrap(partition.value()).getInt() : record.partition(),
                        offset != null ? ByteBuffer.wrap(offset.value()).getLong() : record.offset(),
                        record.topic(), record.key(), record.value(),
                        message != null ? message : "(no exception header)",
                        cause != null ? cause : text(record, KafkaHeaders.DLT_EXCEPTION_FQCN))
                .update();
    }

    private static String text(ConsumerRecord<?, ?> record, String header) {
        Header h = record.headers().lastHeader(header);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }
}
