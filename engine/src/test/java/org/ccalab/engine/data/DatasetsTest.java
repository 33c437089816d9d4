package org.ccalab.engine.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.file.Path;
import org.ccalab.common.run.TrainingSpec;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.engine.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The api validates dataset names against TrainingSpec's list; the engine's registry opens exactly that list. These
 * tests fail when one side gains or loses a name without the other.
 */
class DatasetsTest {
    @TempDir
    Path work;

    private Datasets datasets() {
        return new Datasets(new CorpusStore(work.resolve("cache"), URI.create("http://127.0.0.1:9/")));
    }

    @Test
    void syntheticTasksAreTheOnesTheSpecAccepts() {
        assertThat(Datasets.SYNTHETIC.keySet()).containsExactlyInAnyOrderElementsOf(TrainingSpec.SIZED_TASKS.keySet());
        for (String task : TrainingSpec.SIZED_TASKS.keySet()) {
            assertThat(datasets().open(task, Tokenizer.named("bytes"), 1).name()).as(task).isNotBlank();
            assertThatThrownBy(() -> datasets().open(task + ":x", Tokenizer.named("bytes"), 1))
                    .isInstanceOf(InvalidConfigException.class)
                    .hasMessageContaining(task + ":<" + TrainingSpec.SIZED_TASKS.get(task) + ">");
        }
    }

    @Test
    void namedCorporaAreTheOnesTheSpecAccepts() {
        assertThat(NamedCorpus.ALL).extracting(c -> c.datasetName())
                .containsExactlyInAnyOrderElementsOf(TrainingSpec.NAMED_CORPORA);
    }

    @Test
    void unknownNameListsTheSpecsForms() {
        assertThatThrownBy(() -> datasets().open("wikitext", Tokenizer.named("bytes"), 1))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("unknown dataset wikitext; use " + String.join(", ", TrainingSpec.DATASET_FORMS));
    }
}
