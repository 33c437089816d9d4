package org.ccalab.api.system;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.ccalab.common.validation.InvalidConfigException;
import org.junit.jupiter.api.Test;
import org.springframework.http.ProblemDetail;

class ProblemAdviceTest {
    @Test
    @SuppressWarnings("unchecked")
    void anInvalidConfigCarryingSeveralFaultsAnswersThemAll() {
        InvalidConfigException ex = InvalidConfigException.of(List.of(
                new InvalidConfigException("variant.dModel", "must be in [1, 16384], got 0"),
                new InvalidConfigException("variant.nHeads", "must be in [1, 128], got 0")));
        ProblemDetail pd = (ProblemDetail) new ProblemAdvice().handleInvalidConfig(ex).getBody();
        List<FieldError> errors = (List<FieldError>) pd.getProperties().get("errors");
        assertThat(errors).extracting(FieldError::field).containsExactly("variant.dModel", "variant.nHeads");
        assertThat(pd.getType().toString()).isEqualTo("urn:ccalab:problem:validation-failed");
    }

    @Test
    void aFamilyFaultAloneIsAnUnknownFamily() {
        ProblemDetail pd = (ProblemDetail) new ProblemAdvice()
                .handleInvalidConfig(new InvalidConfigException("family", "unknown variant family")).getBody();
        assertThat(pd.getType().toString()).isEqualTo("urn:ccalab:problem:unknown-variant-family");
    }
}
