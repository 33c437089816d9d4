package org.ccalab.api.system;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.List;
import org.springframework.http.MediaType;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;
import tools.jackson.databind.json.JsonMapper;

/**
 * Caps request bodies at {@code ccalab.api.limits.max-body-bytes}: a declared Content-Length over the limit
 * is refused before anything is read; a chunked body is counted as it is read and fails the read once it
 * passes the limit ({@link BodyTooLargeException}, answered 413 by {@link ProblemAdvice}).
 */
@Component
class BodySizeLimitFilter extends OncePerRequestFilter {
    private final long limit;
    private final JsonMapper json;

    BodySizeLimitFilter(ApiProperties properties, JsonMapper json) {
        this.limit = properties.limits().maxBodyBytes();
        this.json = json;
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        long declared = request.getContentLengthLong();
        if (declared > limit) {
            response.setStatus(ProblemType.BODY_TOO_LARGE.status().value());
            response.setContentType(MediaType.APPLICATION_PROBLEM_JSON_VALUE);
            String detail = "the request body of " + declared + " bytes exceeds the limit of " + limit
                    + " bytes (ccalab.api.limits.max-body-bytes)";
            json.writeValue(response.getOutputStream(), ProblemAdvice.toProblem(ProblemType.BODY_TOO_LARGE, detail,
                    List.of(new FieldError("body", detail))));
            return;
        }
        chain.doFilter(declared < 0 ? new Limited(request, limit) : request, response);
    }

    private static final class Limited extends HttpServletRequestWrapper {
        private final long limit;
        private ServletInputStream stream;

        Limited(HttpServletRequest request, long limit) {
            super(request);
            this.limit = limit;
        }

        @Override
        public ServletInputStream getInputStream() throws IOException {
            if (stream == null) stream = new Counting(super.getInputStream(), limit);
            return stream;
        }
    }

    private static final class Counting extends ServletInputStream {
        private final ServletInputStream in;
        private final long limit;
        private long count;

        Counting(ServletInputStream in, long limit) {
            this.in = in;
            this.limit = limit;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) add(1);
            return b;
        }

        @Override
        public int read(byte[] buf, int off, int len) throws IOException {
            int n = in.read(buf, off, len);
            if (n > 0) add(n);
            return n;
        }

        private void add(long n) throws BodyTooLargeException {
            count += n;
            if (count > limit) throw new BodyTooLargeException(limit);
        }

        @Override
        public boolean isFinished() {
            return in.isFinished();
        }

        @Override
        public boolean isReady() {
            return in.isReady();
        }

        @Override
        public void setReadListener(ReadListener listener) {
            in.setReadListener(listener);
        }
    }
}
